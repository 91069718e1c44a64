"""Consistency reports and per-item consensus.

A :class:`ConsistencyReport` is written whole, in one transaction, by ``report_recompute``; the
newest one is served and older ones stay as history (a report is never updated in place).
:class:`ItemConsensus` holds each item's current best label: refreshed by majority vote when a
label is committed (cheap, in the request), and by Dawid–Skene at each project recompute.
"""

from __future__ import annotations

from django.db import models

from annotations.models import Item, LabelClass, Project


class ConsistencyReport(models.Model):
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="consistency_reports"
    )
    round = models.PositiveIntegerField()
    version = models.PositiveBigIntegerField(
        help_text="The recompute request it answers: newer requests have larger versions."
    )
    high_water_mark = models.BigIntegerField(default=0, help_text="Largest annotation id read.")
    computed_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    n_items = models.PositiveIntegerField()
    n_labeled_items = models.PositiveIntegerField()
    n_annotations = models.PositiveIntegerField()
    n_labelers = models.PositiveIntegerField()
    overall = models.JSONField(default=dict)
    per_class = models.JSONField(default=list)
    per_labeler = models.JSONField(default=list)
    per_slice = models.JSONField(default=list)
    pairwise = models.JSONField(default=dict)
    confusion_pairs = models.JSONField(default=list)
    top_disagreements = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "round", "version"], name="report_unique_version"
            ),
        ]
        indexes = [
            models.Index(fields=["project", "-version"], name="report_latest"),
        ]

    def __str__(self) -> str:
        return f"report {self.project_id}/r{self.round} v{self.version}"


class ConsensusMethod(models.TextChoices):
    MAJORITY = "majority", "Majority vote"
    DAWID_SKENE = "dawid_skene", "Dawid–Skene"


class ItemConsensus(models.Model):
    """An item's consensus label and how strongly its labelers disagree (derived, rebuildable)."""

    item = models.OneToOneField(
        Item, on_delete=models.CASCADE, primary_key=True, related_name="consensus"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    round = models.PositiveIntegerField()
    label = models.ForeignKey(
        LabelClass, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    method = models.CharField(max_length=16, choices=ConsensusMethod.choices)
    confidence = models.FloatField(null=True, blank=True)
    n_labels = models.PositiveSmallIntegerField(default=0)
    majority_share = models.FloatField(null=True, blank=True)
    entropy = models.FloatField(null=True, blank=True)
    tied = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # "most disputed first" lists read this index.
            models.Index(fields=["project", "majority_share", "item"], name="consensus_disputed"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}: {self.label_id} ({self.method})"
