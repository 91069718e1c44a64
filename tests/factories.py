"""factory_boy factories shared by every app's tests."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from annotations.models import Item, LabelClass, Membership, Project, Role, Round


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pw-labelhub-1")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805 (factory_boy hook)
        if create:
            obj.save()


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Project {n}")
    overlap = 3

    @factory.post_generation
    def setup(obj, create, extracted, **kwargs):  # noqa: N805
        """Round 1 and the classes clean / scratch / dent / borderline, as project_create does."""
        if not create:
            return
        Round.objects.create(project=obj, number=1)
        keys = [
            ("clean", "1", "normal"),
            ("scratch", "2", "normal"),
            ("dent", "3", "normal"),
            ("borderline", "b", "borderline"),
        ]
        LabelClass.objects.bulk_create(
            LabelClass(
                project=obj, key=key, name=key.capitalize(), hotkey=hotkey, kind=kind, order=i
            )
            for i, (key, hotkey, kind) in enumerate(keys)
        )


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    project = factory.SubFactory(ProjectFactory)
    external_id = factory.Sequence(lambda n: f"item-{n}")
    text = factory.Sequence(lambda n: f"Example text {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    project = factory.SubFactory(ProjectFactory)
    role = Role.LABELER


def submit_labels(item, labels: dict, *, announce: bool = True) -> None:
    """Each ``{labeler: class key}`` labels ``item`` in its current round through the service,
    running the after-commit receivers as production does (item consensus, escalation,
    notifications, a recompute request) unless ``announce`` is False."""
    from django.test import TestCase

    from annotations.services.annotations import annotation_submit

    item.refresh_from_db()
    for user, key in labels.items():
        with TestCase.captureOnCommitCallbacks(execute=True):
            annotation_submit(
                labeler=user,
                item_id=item.pk,
                value={"label": key},
                idempotency_key=f"{user.pk}-{item.pk}-r{item.round}",
                announce=announce,
            )
