"""Consistency reports, per-item consensus, and the disagreement-review workflow.

A :class:`ConsistencyReport` is written whole, in one transaction, by ``report_recompute``; the
newest one is served and older ones stay as history (a report is never updated in place).
:class:`ItemConsensus` holds each item's current best label: refreshed by majority vote when a
label is committed (cheap, in the request), and by Dawid–Skene at each project recompute.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

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
    # Rounds and guidelines: agreement per round and per guideline version, whether the newest
    # round raised agreement (paired bootstrap CI), and what escalation cost and saved.
    per_round = models.JSONField(default=list)
    per_guideline = models.JSONField(default=list)
    round_change = models.JSONField(default=dict)
    escalation = models.JSONField(default=dict)
    # The taxonomy version the labels were mapped through (see ClassMerge).
    taxonomy_version = models.PositiveIntegerField(default=0, db_default=0)

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
    MEDOID = "medoid", "Medoid transcript"
    REVIEWED = "reviewed", "Reviewed by an SME"  # only on read: see ReviewDecision


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
    # Transcription projects: the consensus transcript (normalised), and the mean pairwise word
    # error rate between the item's transcripts (labels and shares count distinct transcripts).
    text = models.TextField(blank=True, default="", db_default="")
    word_error_rate = models.FloatField(null=True, blank=True)
    # The item's confusion pair: its two most chosen classes (class order), none when unanimous.
    pair_low = models.ForeignKey(
        LabelClass, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pair_high = models.ForeignKey(
        LabelClass, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # "most disputed first" lists read this index.
            models.Index(fields=["project", "majority_share", "item"], name="consensus_disputed"),
            # The review queue's pair filter and "other items with this pair".
            models.Index(fields=["project", "pair_low", "pair_high"], name="consensus_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}: {self.label_id} ({self.method})"


class DecisionOutcome(models.TextChoices):
    LABEL = "label", "Final label"
    INPUT_INSUFFICIENT = "input_insufficient", "Input lacks information"
    INSTRUCTIONS_AMBIGUOUS = "instructions_ambiguous", "Instructions ambiguous"


class ReviewDecision(models.Model):
    """An SME's decision on a disputed item, in the item's round. Never edited: a revision is a
    new row with the next ``revision`` number, and the previous row loses ``current``.

    A current ``label`` decision overrides the item's computed consensus (method ``reviewed``) on
    read; the stored ``ItemConsensus`` stays purely derived from labels.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="decisions")
    round = models.PositiveIntegerField()
    revision = models.PositiveIntegerField()
    current = models.BooleanField(default=True)
    outcome = models.CharField(max_length=32, choices=DecisionOutcome.choices)
    label = models.ForeignKey(
        LabelClass, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(max_length=5000)
    # A transcription project's final transcript (outcome "label"); empty otherwise.
    text = models.TextField(blank=True, default="", db_default="")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField()
    guideline = models.ForeignKey(
        "GuidelineVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="decisions",
        help_text="The guideline version this decision led to (instructions ambiguous).",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "revision"], name="decision_unique_revision"),
            models.UniqueConstraint(
                fields=["item"], condition=Q(current=True), name="decision_one_current"
            ),
            # A final label names a class, or (transcription projects) carries the final
            # transcript; the other outcomes carry neither.
            models.CheckConstraint(
                condition=Q(outcome="label") | (Q(label__isnull=True) & Q(text="")),
                name="decision_answer_only_for_label",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "outcome", "current"], name="decision_project"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} r{self.revision}: {self.outcome}"


class Comment(models.Model):
    """A markdown comment in an item's discussion. Edits keep the earlier bodies."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=10000)
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["item", "id"], name="comment_item")]

    def __str__(self) -> str:
        return f"comment {self.pk} on {self.item_id}"


class CommentRevision(models.Model):
    """A comment's body before an edit."""

    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="revisions")
    body = models.TextField()
    replaced_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"comment {self.comment_id} before {self.replaced_at:%Y-%m-%d %H:%M}"


class GuidelineVersion(models.Model):
    """One published version of a project's labeling instructions (markdown). Never edited."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="guidelines")
    version = models.PositiveIntegerField()
    body = models.TextField(max_length=100000)
    changelog = models.TextField(max_length=5000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="guideline_unique_version"),
        ]

    def __str__(self) -> str:
        return f"{self.project_id} guideline v{self.version}"


class GuidelineExample(models.Model):
    """An example item of a guideline version: "this is a <class>" or "this is not"."""

    guideline = models.ForeignKey(
        GuidelineVersion, on_delete=models.CASCADE, related_name="examples"
    )
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    label = models.ForeignKey(LabelClass, on_delete=models.PROTECT, related_name="+")
    is_example = models.BooleanField(default=True, help_text="False: a counter-example.")
    note = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"v{self.guideline_id}: {self.item_id} {'is' if self.is_example else 'is not'}"


class NotificationKind(models.TextChoices):
    DISAGREEMENTS = "disagreements", "New disagreements"
    MENTION = "mention", "Mentioned in a comment"


class Notification(models.Model):
    """An in-app notification. New disagreements coalesce: while one is unread, its ``count``
    grows instead of a new row being added."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=NotificationKind.choices)
    item = models.ForeignKey(
        Item, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    count = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "read_at", "-id"], name="notification_inbox")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "project", "kind"],
                condition=Q(read_at__isnull=True, kind="disagreements"),
                name="notification_one_unread_digest",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.kind} ×{self.count}"


class ModelRun(models.Model):
    """A set of model predictions on a project's items (one model version), for error analysis.

    ``shadow``: the run records a model beside the labelers over time (shadow mode); its
    predictions carry when they were made, and the analysis groups them by week.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_runs")
    name = models.CharField(max_length=100)
    version = models.CharField(max_length=50)
    description = models.TextField(blank=True)
    shadow = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name", "version"], name="modelrun_unique_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class Prediction(models.Model):
    """One model prediction on one item: its label and, optionally, a score per class."""

    run = models.ForeignKey(ModelRun, on_delete=models.CASCADE, related_name="predictions")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    label = models.ForeignKey(LabelClass, on_delete=models.PROTECT, related_name="+")
    scores = models.JSONField(null=True, blank=True)
    predicted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "item"], name="prediction_unique_item"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.item_id}: {self.label_id}"


class DatasetVersion(models.Model):
    """An export frozen into an immutable, downloadable file: the data-centric loop's checkpoint.

    ``params`` are the export parameters exactly as validated; ``content_hash`` is the SHA-256 of
    the frozen JSONL bytes, so two versions with the same hash hold the same records. ``summary``
    is the consistency report at freezing time (its version and overall coefficients). Nothing
    here is updated after creation; the diff between two versions reads both files.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="datasets")
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=100, blank=True)
    note = models.TextField(max_length=5000, blank=True)
    params = models.JSONField(default=dict)
    content_hash = models.CharField(max_length=64)
    n_items = models.PositiveIntegerField()
    class_counts = models.JSONField(default=dict)
    summary = models.JSONField(default=dict)
    file = models.FileField(upload_to="datasets/%Y/%m/")
    size_bytes = models.PositiveBigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="dataset_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.project_id} v{self.number}"


class WebhookEvent(models.TextChoices):
    ANNOTATION_SUBMITTED = "annotation.submitted", "Annotation submitted"
    ITEM_DISPUTED = "item.disputed", "Item disputed"
    ITEM_RESOLVED = "item.resolved", "Item resolved"
    REPORT_COMPUTED = "report.computed", "Consistency report computed"
    DATASET_FROZEN = "dataset.frozen", "Dataset version frozen"


class Webhook(models.Model):
    """A manager's URL that receives signed POSTs for the chosen events of one project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list, help_text="WebhookEvent values.")
    secret = models.CharField(max_length=64, help_text="HMAC-SHA256 key for the signature.")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.project_id}: {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one webhook; the body is kept so a replay signs the same
    bytes. ``replay_of`` names the delivery a manager replayed."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    body = models.TextField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["webhook", "-id"], name="delivery_log")]

    def __str__(self) -> str:
        return f"{self.webhook_id} {self.event} {self.status}"


class TaxonomyVersion(models.Model):
    """One state of a project's classes: which classes count as which (``mapping``: source key →
    target key, only for merged classes). Version 0 is the classes as created and has no row;
    each merge or undo writes the next version. Never updated: history, and what an export or a
    report names when it says which taxonomy it used."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="taxonomies")
    number = models.PositiveIntegerField()
    mapping = models.JSONField(default=dict)
    change = models.CharField(max_length=200, help_text='e.g. "merge 3: a, b → c" or "undo 3".')
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="taxonomy_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.project_id} taxonomy v{self.number}"


class ClassMerge(models.Model):
    """A manager merged ``sources`` into ``target`` (e.g. deep_scratch + shallow_scratch →
    scratch). Raw annotations are untouched: the merge sets ``LabelClass.merged_into`` on the
    sources, and every read maps labels through it. Undoing clears it; both write a new
    ``TaxonomyVersion`` and ask for a recompute."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="class_merges")
    sources = models.ManyToManyField(LabelClass, related_name="+")
    # Null once an undo deleted a target the merge had created (nothing named it): the history
    # keeps its key.
    target = models.ForeignKey(
        LabelClass, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_key = models.CharField(max_length=64)
    created_target = models.BooleanField(
        default=False, help_text="The merge created the target class (undo removes it again)."
    )
    taxonomy = models.ForeignKey(TaxonomyVersion, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undo_taxonomy = models.ForeignKey(
        TaxonomyVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"merge {self.pk} → {self.target_id}"


class RuleSet(models.Model):
    """One version of a transcription project's standardisation rules (``consensus.standardise``):
    an ordered list of rules, validated and fingerprinted. Versions are never edited; activating
    one sets ``Project.rule_set_version`` and stores every transcript's normalised text under it
    (:class:`NormalizedTranscript`). Raw transcripts are never changed."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rule_sets")
    version = models.PositiveIntegerField()
    rules = models.JSONField(default=list)
    fingerprint = models.CharField(max_length=64)
    note = models.TextField(max_length=2000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="ruleset_unique_version"),
        ]

    def __str__(self) -> str:
        return f"{self.project_id} rules v{self.version}"


class NormalizedTranscript(models.Model):
    """A transcript after a rule-set version: derived from the raw annotation, which stays."""

    annotation = models.ForeignKey(
        "annotations.Annotation", on_delete=models.CASCADE, related_name="+"
    )
    rule_set = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="transcripts")
    text = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule_set", "annotation"], name="normalized_unique_annotation"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.annotation_id}@{self.rule_set_id}"
