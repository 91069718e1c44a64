"""``manage.py load_demo``: the demo project (once) and the logins to try it with."""

from django.core.management.base import BaseCommand

from fixtures.demo import DEMO_PASSWORD, PEOPLE, demo_load


class Command(BaseCommand):
    help = "Load the phone-surface demo project (does nothing if it exists) and print the logins."

    def add_arguments(self, parser):
        parser.add_argument("--items", type=int, default=200)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, items: int, seed: int, **options):
        project, created = demo_load(n_items=items, seed=seed)
        verb = "Loaded" if created else "Found"
        count = project.items.count()
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} demo project #{project.pk}: {project.name} ({count} items)."
            )
        )
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for person in PEOPLE:
            self.stdout.write(f"  {person.username:<8} {person.role:<9} {person.note}")
