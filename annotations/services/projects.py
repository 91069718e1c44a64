"""Create and change projects, their label classes and their members."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, ProtectedError, Q

from annotations.models import (
    ClassKind,
    Item,
    ItemStatus,
    LabelClass,
    Membership,
    Project,
    Role,
    Round,
    TaskType,
)
from labelhub.errors import ApplicationError, ConflictError, NotFoundError

#: Hotkeys handed out to classes that do not name one: 1–9, then letters; B is for borderline.
_AUTO_HOTKEYS = "123456789acdefghijklmnopqrtuvwxy"
BORDERLINE_HOTKEY = "b"
#: Keys the labeling page uses for itself: S skip, Z undo.
RESERVED_HOTKEYS = frozenset("sz")


def _check_hotkey(hotkey: str, field: str) -> None:
    if hotkey.lower() in RESERVED_HOTKEYS:
        raise ApplicationError(
            "reserved_hotkey", f"Hotkey {hotkey!r} is reserved (S skips, Z undoes).", field=field
        )


@dataclass(frozen=True)
class ClassSpec:
    key: str
    name: str = ""
    kind: str = ClassKind.NORMAL
    hotkey: str = ""


def _assign_hotkeys(specs: Sequence[ClassSpec]) -> list[str]:
    taken = {s.hotkey.lower() for s in specs if s.hotkey}
    free = iter(k for k in _AUTO_HOTKEYS if k not in taken)
    keys: list[str] = []
    for spec in specs:
        if spec.hotkey:
            keys.append(spec.hotkey.lower())
        elif spec.kind == ClassKind.BORDERLINE and BORDERLINE_HOTKEY not in taken:
            keys.append(BORDERLINE_HOTKEY)
            taken.add(BORDERLINE_HOTKEY)
        else:
            keys.append(next(free, ""))
    return keys


def _validate_classes(specs: Sequence[ClassSpec]) -> None:
    if not specs:
        raise ApplicationError("invalid", "A project needs at least one class.", field="classes")
    seen: set[str] = set()
    hotkeys: set[str] = set()
    for index, spec in enumerate(specs):
        field = f"classes[{index}]"
        if spec.key in seen:
            raise ApplicationError(
                "duplicate_class", f"Class key {spec.key!r} appears twice.", field=f"{field}.key"
            )
        seen.add(spec.key)
        _check_hotkey(spec.hotkey, f"{field}.hotkey")
        if spec.hotkey and spec.hotkey.lower() in hotkeys:
            raise ApplicationError(
                "duplicate_hotkey",
                f"Hotkey {spec.hotkey!r} appears twice.",
                field=f"{field}.hotkey",
            )
        hotkeys.add(spec.hotkey.lower())
    if sum(spec.kind == ClassKind.BORDERLINE for spec in specs) > 1:
        raise ApplicationError(
            "too_many_borderline", "A project may have one borderline class.", field="classes"
        )


#: Standard tokens of a transcription project: bracketed words such as "[unintelligible]".
MAX_TOKENS = 20


def _validate_tokens(tokens: Sequence[str]) -> list[str]:
    cleaned: list[str] = []
    if len(tokens) > MAX_TOKENS:
        raise ApplicationError(
            "invalid", f"At most {MAX_TOKENS} standard tokens.", field="transcript_tokens"
        )
    for index, token in enumerate(tokens):
        text = token.strip() if isinstance(token, str) else ""
        if not text or len(text) > 40 or any(c.isspace() for c in text):
            raise ApplicationError(
                "invalid",
                "A token is 1–40 characters without spaces, e.g. [unintelligible].",
                field=f"transcript_tokens[{index}]",
            )
        if text in cleaned:
            raise ApplicationError(
                "invalid", f"Token {text!r} appears twice.", field=f"transcript_tokens[{index}]"
            )
        cleaned.append(text)
    return cleaned


def project_create(
    *,
    creator: AbstractBaseUser,
    name: str,
    classes: Sequence[ClassSpec] = (),
    task_type: str = TaskType.CLASSIFICATION,
    overlap: int = 3,
    description: str = "",
    instructions: str = "",
    transcript_tokens: Sequence[str] = (),
    allow_empty_transcripts: bool = False,
) -> Project:
    """Create a project with round 1 (and, for classification, its classes); the creator becomes
    its manager. A transcription project has no classes: its answers are free text."""
    if task_type == TaskType.TRANSCRIPTION:
        if classes:
            raise ApplicationError(
                "invalid", "A transcription project has no classes.", field="classes"
            )
        tokens = _validate_tokens(transcript_tokens)
    else:
        _validate_classes(classes)
        if transcript_tokens:
            raise ApplicationError(
                "invalid",
                "Standard tokens belong to transcription projects.",
                field="transcript_tokens",
            )
        tokens = []
    hotkeys = _assign_hotkeys(classes)
    with transaction.atomic():
        project = Project.objects.create(
            name=name,
            task_type=task_type,
            overlap=overlap,
            description=description,
            instructions=instructions,
            transcript_tokens=tokens,
            allow_empty_transcripts=allow_empty_transcripts,
            created_by=creator,
        )
        LabelClass.objects.bulk_create(
            LabelClass(
                project=project,
                key=spec.key,
                name=spec.name or spec.key.replace("_", " ").capitalize(),
                kind=spec.kind,
                hotkey=hotkey,
                order=index,
            )
            for index, (spec, hotkey) in enumerate(zip(classes, hotkeys, strict=True))
        )
        Round.objects.create(project=project, number=1)
        Membership.objects.create(project=project, user=creator, role=Role.MANAGER)
    return project


#: Project fields a manager may change after creation.
PROJECT_SETTINGS = frozenset(
    {
        "name",
        "description",
        "instructions",
        "overlap",
        "gold_rate",
        "gold_onboarding",
        "gold_min_accuracy",
        "gold_min_answers",
        "review_rule",
        "review_threshold",
        "escalation_max_labels",
        "audit_slices",
        "audit_margin",
    }
)


def project_update(*, project: Project, changes: dict[str, Any]) -> Project:
    """Change project settings (keys of ``PROJECT_SETTINGS``; ``gold_min_accuracy`` may be None
    to turn pausing off). A new ``overlap`` re-opens or completes items in two bulk UPDATEs.

    Locks: the project row.
    """
    unknown = set(changes) - PROJECT_SETTINGS
    if unknown:
        raise ApplicationError(
            "invalid", f"{sorted(unknown)[0]} cannot be changed.", field=sorted(unknown)[0]
        )
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        for field, value in changes.items():
            setattr(project, field, value)
        project.save()
        overlap = changes.get("overlap")
        if overlap is not None:
            items = Item.objects.filter(project=project)
            wanted = overlap + F("extra_labels")
            items.filter(status=ItemStatus.COMPLETE, labels_done__lt=wanted).update(
                status=ItemStatus.OPEN
            )
            items.filter(status=ItemStatus.OPEN, labels_done__gte=wanted).update(
                status=ItemStatus.COMPLETE
            )
    return project


def label_class_create(*, project: Project, spec: ClassSpec) -> LabelClass:
    """Add a class at the end of the project's list."""
    _check_hotkey(spec.hotkey, "hotkey")
    existing = list(LabelClass.objects.filter(project=project))
    if any(c.key == spec.key for c in existing):
        raise ConflictError("duplicate_class", f"Class {spec.key!r} exists.", field="key")
    if spec.kind == ClassKind.BORDERLINE and any(c.kind == ClassKind.BORDERLINE for c in existing):
        raise ConflictError(
            "too_many_borderline", "This project has a borderline class already.", field="kind"
        )
    taken = [ClassSpec(key=c.key, kind=c.kind, hotkey=c.hotkey) for c in existing]
    hotkey = _assign_hotkeys([*taken, spec])[-1]
    if spec.hotkey and spec.hotkey.lower() in {c.hotkey for c in existing}:
        raise ConflictError("duplicate_hotkey", f"Hotkey {spec.hotkey!r} is taken.", field="hotkey")
    try:
        with transaction.atomic():
            return LabelClass.objects.create(
                project=project,
                key=spec.key,
                name=spec.name or spec.key.replace("_", " ").capitalize(),
                kind=spec.kind,
                hotkey=hotkey,
                order=max((c.order for c in existing), default=-1) + 1,
            )
    except IntegrityError as exc:  # a concurrent request added the same key or hotkey
        raise ConflictError("duplicate_class", "That class or hotkey was just taken.") from exc


def label_class_update(
    *,
    label_class: LabelClass,
    name: str | None = None,
    order: int | None = None,
    hotkey: str | None = None,
) -> LabelClass:
    """Rename, reorder or re-key a class. Its ``key`` never changes: raw annotations name it."""
    if hotkey:
        _check_hotkey(hotkey, "hotkey")
        hotkey = hotkey.lower()
        taken = LabelClass.objects.filter(project_id=label_class.project_id, hotkey=hotkey)
        if taken.exclude(pk=label_class.pk).exists():
            raise ConflictError("duplicate_hotkey", f"Hotkey {hotkey!r} is taken.", field="hotkey")
    for field, value in (("name", name), ("order", order), ("hotkey", hotkey)):
        if value is not None:
            setattr(label_class, field, value)
    try:
        with transaction.atomic():
            label_class.save(update_fields=["name", "order", "hotkey"])
    except IntegrityError as exc:  # a concurrent request took the hotkey
        raise ConflictError("duplicate_hotkey", "That hotkey was just taken.") from exc
    return label_class


def membership_set(*, project: Project, username: str, role: str) -> tuple[Membership, bool]:
    """Add ``username`` to the project with ``role``, or change their role. Returns (row, created).

    The last manager cannot be demoted, so a project always has someone who can manage it.
    """
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFoundError(f"No user named {username!r}.")
    with transaction.atomic():
        current = Membership.objects.select_for_update().filter(project=project, user=user).first()
        if current is None:
            return Membership.objects.create(project=project, user=user, role=role), True
        if current.role == Role.MANAGER and role != Role.MANAGER:
            others = Membership.objects.filter(
                ~Q(pk=current.pk), project=project, role=Role.MANAGER
            )
            if not others.exists():
                raise ConflictError(
                    "last_manager", "A project must keep at least one manager.", field="role"
                )
        current.role = role
        current.save(update_fields=["role"])
        return current, False


def label_class_delete(*, project: Project, class_id: int) -> None:
    """Delete a class that nothing refers to. A class with labels, a gold label, a decision, a
    prediction, a guideline example or a merge naming it is refused (409 ``class_in_use``):
    raw labels are never lost, so such a class is merged into another instead."""
    with transaction.atomic():
        label_class = LabelClass.objects.filter(project=project, pk=class_id).first()
        if label_class is None:
            raise NotFoundError("Class not found.")
        if label_class.merged_sources.exists():
            raise ConflictError(
                "class_in_use",
                f"Classes are merged into {label_class.key!r}; undo those merges first.",
            )
        try:
            with transaction.atomic():
                label_class.delete()
        except ProtectedError:
            raise ConflictError(
                "class_in_use",
                f"{label_class.key!r} has labels or is named by a decision, prediction or "
                "example: merge it into another class instead.",
            ) from None
