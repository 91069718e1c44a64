"""Signals that the annotations app sends to the rest of LabelHub.

``annotations`` never imports ``consensus``; it announces what happened through these explicit
signals, sent from its services after the transaction commits (never from a model ``post_save``).
"""

from django.dispatch import Signal

#: Sent after an annotation was stored or withdrawn and the transaction committed.
#: Keyword arguments: ``project_id``, ``item_id``, ``annotation_id``, ``withdrawn`` (bool).
annotation_committed = Signal()

#: Sent after a new round opened on chosen items and the transaction committed.
#: Keyword arguments: ``project_id``, ``round_number``, ``item_ids`` (sorted list).
round_started = Signal()
