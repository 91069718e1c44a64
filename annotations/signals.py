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

#: Sent after a Label Studio import committed annotations or items (one signal per import).
#: Keyword arguments: ``project_id``, ``item_ids`` (sorted list of the created or newly labeled
#: items). Consensus refreshes those items' consensus in bulk and asks for a report.
annotations_imported = Signal()

#: Sent while a Label Studio export is streamed, once per chunk of items, to collect
#: predictions to attach to the tasks (annotations does not read consensus itself).
#: Keyword arguments: ``project_id``, ``item_ids``. A receiver returns
#: ``{item_id: {"label_id": int, "score": float | None, "model_version": str}}``.
label_studio_predictions = Signal()
