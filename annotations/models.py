"""Projects, label classes, items, memberships, rounds, assignments and raw annotations.

Raw annotations are immutable: an undo marks a row withdrawn and keeps it. Counters on
:class:`Item` (``labels_done``) are derived from annotations and kept in step by the services,
under the item's row lock, so the assignment engine can pick work from one index.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class TaskType(models.TextChoices):
    CLASSIFICATION = "classification", "Single-choice classification"
    TRANSCRIPTION = "transcription", "Transcription (free text)"


class Role(models.TextChoices):
    LABELER = "labeler", "Labeler"
    REVIEWER = "reviewer", "Reviewer (SME)"
    ENGINEER = "engineer", "ML engineer"
    MANAGER = "manager", "Manager"


# Fields added after the first release also carry a database default (``db_default``), so rows
# written by raw SQL (benchmarks, bulk loaders) that do not name them stay valid.


class ReviewRule(models.TextChoices):
    """When an item's labels count as disputed (enough to escalate, then to enter review)."""

    ANY = "any", "Any disagreement"
    MAJORITY_BELOW = "majority_below", "Majority share below the threshold"
    POSTERIOR_BELOW = "posterior_below", "Dawid–Skene posterior below the threshold"


class Project(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    task_type = models.CharField(
        max_length=32, choices=TaskType.choices, default=TaskType.CLASSIFICATION
    )
    overlap = models.PositiveSmallIntegerField(
        default=3, help_text="How many distinct labelers label each item."
    )
    instructions = models.TextField(blank=True, help_text="Labeling instructions (markdown).")
    current_round = models.PositiveIntegerField(default=1)
    # Gold mixing (off while rate and onboarding are 0): gold items leave the overlap pool and are
    # served to every labeler, mixed into the queue, to measure each labeler's accuracy.
    gold_rate = models.FloatField(
        default=0.0, help_text="Share of served items that are gold (0 = off)."
    )
    gold_onboarding = models.PositiveSmallIntegerField(
        default=0, help_text="A new labeler's first N items are gold."
    )
    gold_min_accuracy = models.FloatField(
        null=True, blank=True, help_text="Pause a labeler whose gold accuracy falls below this."
    )
    gold_min_answers = models.PositiveSmallIntegerField(
        default=10, help_text="Gold answers needed before a labeler can be paused."
    )
    # Disagreement review: which items are disputed, and how many extra labels (escalation)
    # an item may get before an SME sees it (0 = no escalation).
    review_rule = models.CharField(
        max_length=20, choices=ReviewRule.choices, default=ReviewRule.ANY, db_default=ReviewRule.ANY
    )
    review_threshold = models.FloatField(
        default=0.75,
        db_default=0.75,
        help_text="Majority share or posterior below which an item is disputed.",
    )
    escalation_max_labels = models.PositiveSmallIntegerField(
        default=0,
        db_default=0,
        help_text="Extra labels a disputed item may get before review (0 = off).",
    )
    # The newest published guideline (0: none yet). Labelers acknowledge it before labeling.
    guideline_version = models.PositiveIntegerField(default=0, db_default=0)
    # Taxonomy evolution: the number of the project's current taxonomy version (0: the classes
    # as created; each class merge or undo makes the next one). See consensus.models.ClassMerge.
    taxonomy_version = models.PositiveIntegerField(default=0, db_default=0)
    # Transcription projects: whether an empty transcript is an answer (silence), the standard
    # tokens offered as buttons (e.g. "[unintelligible]"), and the standardisation rule-set
    # version whose normalised transcripts the report reads (0: the raw text, trimmed).
    allow_empty_transcripts = models.BooleanField(default=False, db_default=False)
    transcript_tokens = models.JSONField(default=list, db_default=[], blank=True)
    rule_set_version = models.PositiveIntegerField(default=0, db_default=0)
    # Error analysis: slice dimensions a manager marks as key for auditing (e.g. protected
    # attributes), and how far a key slice may fall below the whole before it is flagged.
    audit_slices = models.JSONField(default=list, db_default=[], blank=True)
    audit_margin = models.FloatField(default=0.05, db_default=0.05)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(review_threshold__gte=0) & Q(review_threshold__lte=1),
                name="project_review_threshold_0_1",
            ),
            models.CheckConstraint(
                condition=Q(overlap__gte=1) & Q(overlap__lte=50), name="project_overlap_1_50"
            ),
            models.CheckConstraint(condition=Q(current_round__gte=1), name="project_round_gte_1"),
            models.CheckConstraint(
                condition=Q(gold_rate__gte=0) & Q(gold_rate__lte=1), name="project_gold_rate_0_1"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def gold_mixing(self) -> bool:
        return self.gold_rate > 0 or self.gold_onboarding > 0


class Round(models.Model):
    """A labeling round. Round 1 opens with the project; later rounds relabel chosen items."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rounds")
    number = models.PositiveIntegerField()
    is_open = models.BooleanField(default=True)
    started_at = models.DateTimeField(auto_now_add=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="round_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.project_id}/round {self.number}"


class ClassKind(models.TextChoices):
    NORMAL = "normal", "Normal"
    BORDERLINE = "borderline", "Borderline (uncertain)"


class LabelClass(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="classes")
    key = models.SlugField(max_length=64)
    name = models.CharField(max_length=120)
    order = models.PositiveIntegerField(default=0)
    hotkey = models.CharField(max_length=1, blank=True)
    kind = models.CharField(max_length=16, choices=ClassKind.choices, default=ClassKind.NORMAL)
    # Set while the class is merged into another in the current taxonomy version: its raw labels
    # stay as they are and count as the target's; labelers no longer see it. Chains are resolved
    # by the merge service (a target is never itself merged).
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_sources"
    )

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "key"], name="labelclass_unique_key"),
            models.UniqueConstraint(
                fields=["project", "hotkey"],
                condition=~Q(hotkey=""),
                name="labelclass_unique_hotkey",
            ),
            models.UniqueConstraint(
                fields=["project"],
                condition=Q(kind="borderline"),
                name="labelclass_one_borderline",
            ),
        ]

    def __str__(self) -> str:
        return self.key


class LabelClassAlias(models.Model):
    """Another spelling of a class ("Scratch", "scratch ", "scr" → scratch), matched after case
    folding and trimming (``normalized``), used wherever a label arrives as text: the annotation
    API, item imports (gold), prediction imports and Label Studio imports."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="class_aliases")
    alias = models.CharField(max_length=120, help_text="As given.")
    normalized = models.CharField(max_length=120)
    label_class = models.ForeignKey(LabelClass, on_delete=models.CASCADE, related_name="aliases")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "normalized"], name="alias_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.alias!r} → {self.label_class_id}"


class ItemStatus(models.TextChoices):
    OPEN = "open", "Needs labels"
    COMPLETE = "complete", "Fully labeled"


class Item(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=255)
    text = models.TextField(blank=True)
    image = models.ImageField(upload_to="items/%Y/%m/", blank=True)
    image_url = models.URLField(max_length=2000, blank=True)
    thumbnail = models.ImageField(upload_to="thumbs/%Y/%m/", blank=True)
    # Transcription input: an uploaded clip (checked to be audio at import) or a URL.
    audio = models.FileField(upload_to="audio/%Y/%m/", blank=True, db_default="")
    audio_url = models.URLField(max_length=2000, blank=True, db_default="")
    slices = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(
        default=dict, blank=True, help_text="Input metrics: width, height, brightness."
    )
    gold_label = models.ForeignKey(
        LabelClass, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=ItemStatus.choices, default=ItemStatus.OPEN)
    round = models.PositiveIntegerField(default=1, help_text="The round the item is labeled in.")
    labels_done = models.PositiveSmallIntegerField(
        default=0, help_text="Active annotations in the item's round (derived; kept by services)."
    )
    extra_labels = models.PositiveSmallIntegerField(
        default=0,
        db_default=0,
        help_text="Labels asked beyond the overlap by escalation, in this round.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "external_id"], name="item_unique_external_id"
            ),
        ]
        indexes = [
            # The assignment engine walks this index: open items, fullest first.
            models.Index(fields=["project", "status", "-labels_done", "id"], name="item_next_work"),
        ]

    def __str__(self) -> str:
        return self.external_id

    @property
    def kind(self) -> str:
        if self.audio or self.audio_url:
            return "audio"
        return "image" if (self.image or self.image_url) else "text"


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    # A labeler's running gold record (reset when a manager lifts a pause).
    gold_answered = models.PositiveIntegerField(default=0)
    gold_correct = models.PositiveIntegerField(default=0)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=200, blank=True)
    guideline_acknowledged = models.PositiveIntegerField(
        default=0,
        db_default=0,
        help_text="The newest guideline version this member has acknowledged.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.project_id}:{self.role}"


class AssignmentStatus(models.TextChoices):
    LEASED = "leased", "Leased"
    SUBMITTED = "submitted", "Submitted"
    SKIPPED = "skipped", "Skipped"


class Assignment(models.Model):
    """One labeler's claim on one item in one round.

    ``leased`` holds a slot until ``lease_expires_at``; after that the slot is free again and the
    row is re-used if the same labeler comes back. ``submitted`` and ``skipped`` are final for the
    round (an undo turns ``submitted`` back into a fresh lease).
    """

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="assignments")
    labeler = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    round = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=AssignmentStatus.choices)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "labeler", "round"], name="assignment_unique_labeler"
            ),
        ]
        indexes = [
            models.Index(fields=["labeler", "status", "lease_expires_at"], name="assignment_mine"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}/{self.labeler_id}/r{self.round}:{self.status}"


class Annotation(models.Model):
    """A raw label as submitted. Never updated except for ``withdrawn``/``withdrawn_at`` (undo).

    ``project`` repeats ``item.project`` so that a project's annotations are read from one index
    without a join (the consistency engine reads them all).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="annotations")
    labeler = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations"
    )
    round = models.PositiveIntegerField()
    value = models.JSONField(help_text='As submitted, e.g. {"label": "scratch"}.')
    label = models.ForeignKey(
        LabelClass, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    time_spent_ms = models.PositiveIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=128)
    guideline_version = models.PositiveIntegerField(
        default=0,
        db_default=0,
        help_text="The guideline version in force when it was made (0: none).",
    )
    withdrawn = models.BooleanField(default=False)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "labeler", "round"],
                condition=Q(withdrawn=False),
                name="annotation_one_active_per_labeler",
            ),
            models.UniqueConstraint(
                fields=["labeler", "idempotency_key"], name="annotation_unique_idempotency_key"
            ),
        ]
        indexes = [
            models.Index(fields=["item", "round"], name="annotation_item_round"),
            models.Index(fields=["project", "id"], name="annotation_project"),
            models.Index(fields=["labeler", "-created_at"], name="annotation_labeler_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}/{self.labeler_id}: {self.value}"


class FlagKind(models.TextChoices):
    UNSURE = "unsure", "Unsure"
    INPUT_UNCLEAR = "input_unclear", "Input unclear"


class ItemFlag(models.Model):
    """A labeler's note that an item is hard ("unsure") or its input is unclear, in one round.

    Shown to reviewers; a labeler sees only their own flags (labeling stays blind).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="flags")
    labeler = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    round = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=FlagKind.choices)
    note = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "labeler", "round", "kind"], name="itemflag_unique"
            ),
        ]
        indexes = [models.Index(fields=["project", "round", "item"], name="itemflag_project")]

    def __str__(self) -> str:
        return f"{self.item_id}/{self.labeler_id}: {self.kind}"


class ApiToken(models.Model):
    """A personal API token. Only the SHA-256 digest of the key is stored; the key itself is shown
    once, when the token is created. ``prefix`` (the key's first characters) lets a user tell
    tokens apart in the list. A revoked token stays listed and never authenticates again."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-id"], name="apitoken_user")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.name} ({self.prefix}…)"
