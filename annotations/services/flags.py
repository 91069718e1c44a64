"""Labelers flag items they find hard ("unsure") or whose input is unclear."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotations.models import Assignment, Item, ItemFlag
from annotations.services.access import ensure_labeler
from labelhub.errors import NotFoundError


def item_flag(*, labeler: AbstractBaseUser, item_id: int, kind: str, note: str = "") -> ItemFlag:
    """Flag ``item_id`` in its current round. Only a labeler who holds or has labeled the item
    may flag it (others get 404, as if the item did not exist: labeling is blind). Flagging the
    same kind again replaces the note (one flag per labeler, item, round and kind)."""
    item = Item.objects.filter(pk=item_id).only("project_id", "round").first()
    if item is None:
        raise NotFoundError("Item not found.")
    ensure_labeler(item=item, user=labeler)
    if not Assignment.objects.filter(item=item, labeler=labeler, round=item.round).exists():
        raise NotFoundError("Item not found.")
    with transaction.atomic():
        (flag,) = ItemFlag.objects.bulk_create(
            [
                ItemFlag(
                    project_id=item.project_id,
                    item=item,
                    labeler=labeler,
                    round=item.round,
                    kind=kind,
                    note=note,
                    created_at=timezone.now(),
                )
            ],
            update_conflicts=True,
            unique_fields=["item", "labeler", "round", "kind"],
            update_fields=["note", "created_at"],
        )
    return flag
