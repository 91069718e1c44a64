"""Rounds: relabel chosen items under (usually) a new guideline, keeping earlier rounds' labels.

Starting round n moves the chosen items to round n: their counters reset (``labels_done`` 0, no
escalation labels, status open), so the assignment engine serves them again, to the same or
other labelers (assignments and annotations are per round, so a labeler who labeled an item in
round n−1 may label it again). Labels of earlier rounds stay untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from annotations.models import Item, ItemStatus, Project, Round
from annotations.signals import round_started
from labelhub.errors import ApplicationError

#: The most items one request may move to a new round.
MAX_ROUND_ITEMS = 100_000


def round_start(
    *, project: Project, item_ids: Sequence[int], started_by: AbstractBaseUser | None = None
) -> Round:
    """Open round ``project.current_round + 1`` on ``item_ids`` (all of them of ``project``).

    All or nothing: an empty list, or an id that is not an item of this project, answers 400
    (the first bad ids named) and nothing is written. Locks: the project row (rounds are numbered
    one after another), then the items' rows in id order. After commit, ``round_started`` is sent.
    """
    ids = sorted({int(i) for i in item_ids})
    if not ids:
        raise ApplicationError("invalid", "Choose at least one item.", field="items")
    if len(ids) > MAX_ROUND_ITEMS:
        raise ApplicationError(
            "invalid", f"At most {MAX_ROUND_ITEMS} items per round.", field="items"
        )
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        found = set(
            Item.objects.select_for_update()
            .filter(project=project, pk__in=ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        missing = [i for i in ids if i not in found]
        if missing:
            raise ApplicationError(
                "unknown_items",
                f"{len(missing)} of the ids are not items of this project: "
                f"{', '.join(map(str, missing[:10]))}.",
                field="items",
                details=[{"item": i} for i in missing[:50]],
            )
        number = project.current_round + 1
        new_round = Round.objects.create(project=project, number=number, started_by=started_by)
        Item.objects.filter(pk__in=ids).update(
            round=number, labels_done=0, extra_labels=0, status=ItemStatus.OPEN
        )
        project.current_round = number
        project.save(update_fields=["current_round"])
        transaction.on_commit(
            lambda: round_started.send(
                sender=Round, project_id=project.pk, round_number=number, item_ids=ids
            )
        )
    return new_round
