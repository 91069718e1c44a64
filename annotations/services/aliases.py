"""Class aliases: other spellings of a class ("Scratch", "scratch ", "scr" → scratch).

A label that arrives as text — through the annotation API, an item import's gold label, a
prediction import or a Label Studio import — names a class by its key, or by an alias matched
after :func:`alias_normalize`. The raw text stays in the annotation's ``value``; only the class it
counts as is resolved. An alias is never the key of another class (that class would be
unreachable by its own key), and one normalised spelling names one class.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from annotations.models import LabelClass, LabelClassAlias, Project
from labelhub.errors import ApplicationError, ConflictError, NotFoundError

_SPACES = re.compile(r"\s+")
MAX_ALIAS = 120


def alias_normalize(text: str) -> str:
    """Case-folded, trimmed, inner whitespace collapsed: " Deep  Scratch" → "deep scratch"."""
    return _SPACES.sub(" ", text).strip().casefold()


@dataclass(frozen=True)
class ClassLookup:
    """Every way a label may name a project's classes, for resolving many labels at once."""

    by_key: dict[str, LabelClass]
    by_alias: dict[str, LabelClass]  # normalised alias → class

    def resolve(self, text: str) -> LabelClass | None:
        """The class ``text`` names: its key exactly, else an alias."""
        return self.by_key.get(text) or self.by_alias.get(alias_normalize(text))


def class_lookup(*, project_id: int) -> ClassLookup:
    """The project's keys and aliases (two queries)."""
    by_key = {c.key: c for c in LabelClass.objects.filter(project_id=project_id)}
    by_id = {c.pk: c for c in by_key.values()}
    aliases = LabelClassAlias.objects.filter(project_id=project_id).values_list(
        "normalized", "label_class_id"
    )
    return ClassLookup(by_key, {normalized: by_id[i] for normalized, i in aliases})


def class_resolve(*, project_id: int, text: str) -> LabelClass | None:
    """One label's class: by key (one query), else by alias (a second)."""
    found = LabelClass.objects.filter(project_id=project_id, key=text).first()
    if found is not None:
        return found
    alias = (
        LabelClassAlias.objects.filter(project_id=project_id, normalized=alias_normalize(text))
        .select_related("label_class")
        .first()
    )
    return alias.label_class if alias else None


def class_alias_create(
    *, project: Project, alias: str, class_key: str, created_by: AbstractBaseUser | None = None
) -> LabelClassAlias:
    """Map ``alias`` to the class ``class_key`` (managers; the caller checked the role)."""
    if not isinstance(alias, str) or not alias_normalize(alias):
        raise ApplicationError("invalid", "An alias needs some text.", field="alias")
    if len(alias) > MAX_ALIAS:
        raise ApplicationError(
            "invalid", f"An alias is {MAX_ALIAS} characters at most.", field="alias"
        )
    normalized = alias_normalize(alias)
    target = LabelClass.objects.filter(project=project, key=class_key).first()
    if target is None:
        raise ApplicationError(
            "unknown_class", f"This project has no class {class_key!r}.", field="class"
        )
    clash = next(
        (
            c
            for c in LabelClass.objects.filter(project=project).exclude(pk=target.pk)
            if alias_normalize(c.key) == normalized
        ),
        None,
    )
    if clash is not None:
        raise ConflictError(
            "alias_is_class", f"{alias!r} is the key of the class {clash.key!r}.", field="alias"
        )
    try:
        with transaction.atomic():
            return LabelClassAlias.objects.create(
                project=project,
                alias=alias,
                normalized=normalized,
                label_class=target,
                created_by=created_by,
            )
    except IntegrityError:
        taken = LabelClassAlias.objects.filter(project=project, normalized=normalized).first()
        into = taken.label_class.key if taken else "another class"
        raise ConflictError(
            "alias_taken", f"{alias!r} already names {into!r}.", field="alias"
        ) from None


def class_alias_delete(*, project: Project, alias_id: int) -> None:
    deleted, _ = LabelClassAlias.objects.filter(project=project, pk=alias_id).delete()
    if not deleted:
        raise NotFoundError("Alias not found.")
