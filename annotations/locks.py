"""Row-lock helpers: the only places that call ``select_for_update``.

Every write that changes an item's assignments or annotations takes that item's row lock first,
so "how many slots are taken" is stable while the lock is held.
"""

from __future__ import annotations

from django.db.models import QuerySet

from annotations.models import Item
from labelhub.errors import NotFoundError


def item_lock(*, item_id: int) -> Item:
    """Lock one item row (waits for the current holder). Call inside ``transaction.atomic``."""
    item = (
        Item.objects.select_for_update(of=("self",))
        .select_related("project")
        .filter(pk=item_id)
        .first()
    )
    if item is None:
        raise NotFoundError("Item not found.")
    return item


def item_lock_first_free(queryset: QuerySet[Item]) -> Item | None:
    """Lock the first row of ``queryset`` that no other transaction holds (SKIP LOCKED)."""
    return queryset.select_for_update(skip_locked=True, of=("self",)).first()
