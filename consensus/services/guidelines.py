"""Versioned labeling guidelines: publish a version, and labelers acknowledge it.

A published version is never edited. Publishing bumps ``Project.guideline_version``; from then
on ``assignment_next`` and ``annotation_submit`` refuse a labeler (409
``guideline_unacknowledged``) until they acknowledge it, and each annotation records the version
it was made under, so the report can give agreement per guideline version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models.functions import Greatest

from annotations.models import Item, LabelClass, Membership, Project
from consensus.models import DecisionOutcome, GuidelineExample, GuidelineVersion, ReviewDecision
from labelhub.errors import ApplicationError, NotFoundError


@dataclass(frozen=True)
class ExampleSpec:
    item: int
    label: str
    is_example: bool = True
    note: str = ""


def _examples(project: Project, examples: Sequence[ExampleSpec]) -> list[tuple[int, int]]:
    """(item id, class id) per example; 400 naming ``examples[i]`` for a foreign item or class."""
    items = set(
        Item.objects.filter(project=project, pk__in=[e.item for e in examples]).values_list(
            "pk", flat=True
        )
    )
    classes = dict(LabelClass.objects.filter(project=project).values_list("key", "pk"))
    resolved = []
    for index, example in enumerate(examples):
        if example.item not in items:
            raise ApplicationError(
                "unknown_item",
                f"Item {example.item} is not an item of this project.",
                field=f"examples[{index}].item",
            )
        if example.label not in classes:
            raise ApplicationError(
                "unknown_class",
                f"{example.label!r} is not a class of this project.",
                field=f"examples[{index}].label",
            )
        resolved.append((example.item, classes[example.label]))
    return resolved


def guideline_publish(
    *,
    project: Project,
    author: AbstractBaseUser,
    body: str,
    changelog: str = "",
    examples: Sequence[ExampleSpec] = (),
    decision_ids: Sequence[int] | None = None,
) -> GuidelineVersion:
    """Publish the next version. ``decision_ids`` names the "instructions ambiguous" decisions it
    answers (None: every such decision of the project not yet answered); they are linked to it.

    All or nothing; locks the project row (versions are numbered one after another).
    """
    if not (body or "").strip():
        raise ApplicationError("required", "The guideline text cannot be empty.", field="body")
    resolved = _examples(project, examples)
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        open_decisions = ReviewDecision.objects.filter(
            project=project,
            outcome=DecisionOutcome.INSTRUCTIONS_AMBIGUOUS,
            current=True,
            guideline__isnull=True,
        )
        if decision_ids is not None:
            wanted = set(decision_ids)
            found = set(open_decisions.filter(pk__in=wanted).values_list("pk", flat=True))
            if wanted - found:
                raise ApplicationError(
                    "unknown_decision",
                    f"Decision {min(wanted - found)} is not an open 'instructions ambiguous' "
                    "decision of this project.",
                    field="decisions",
                )
            open_decisions = open_decisions.filter(pk__in=found)
        version = GuidelineVersion.objects.create(
            project=project,
            version=project.guideline_version + 1,
            body=body.strip(),
            changelog=(changelog or "").strip(),
            created_by=author,
        )
        GuidelineExample.objects.bulk_create(
            GuidelineExample(
                guideline=version,
                item_id=item_id,
                label_id=class_id,
                is_example=spec.is_example,
                note=spec.note,
            )
            for spec, (item_id, class_id) in zip(examples, resolved, strict=True)
        )
        open_decisions.update(guideline=version)
        project.guideline_version = version.version
        project.save(update_fields=["guideline_version"])
    return version


def guideline_acknowledge(*, project: Project, user: AbstractBaseUser, version: int) -> int:
    """The member has read ``version``; returns the version they have now acknowledged (never
    lower than before). An unknown version answers 404."""
    if not GuidelineVersion.objects.filter(project=project, version=version).exists():
        raise NotFoundError(f"Guideline version {version} not found.")
    with transaction.atomic():
        Membership.objects.filter(project=project, user=user).update(
            guideline_acknowledged=Greatest("guideline_acknowledged", version)
        )
        return (
            Membership.objects.filter(project=project, user=user)
            .values_list("guideline_acknowledged", flat=True)
            .get()
        )
