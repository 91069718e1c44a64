"""Serializers shared by the annotations API views (input serializers live beside their views)."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from annotations.models import Annotation, Item, LabelClass, Membership, Project, Role

#: The largest row id: primary keys are BigAutoFields, signed 64-bit on SQLite and PostgreSQL.
MAX_ID = 2**63 - 1


class IdField(serializers.IntegerField):
    """A row id in request input: an integer in 1..2^63−1, else 400 naming the field.

    A larger number can name no row, and a database will not even compare it: an ``IN`` list
    holding one raises ``OverflowError`` on SQLite and "bigint out of range" on PostgreSQL,
    a 500 instead of the 400 bad input deserves."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class LabelClassSerializer(serializers.ModelSerializer):
    class Meta:
        model = LabelClass
        fields = ["id", "key", "name", "kind", "hotkey", "order", "merged_into"]

    # None unless the class was merged into another.
    merged_into = serializers.SlugRelatedField(slug_field="key", read_only=True, allow_null=True)


GOLD_SETTINGS = ("gold_rate", "gold_onboarding", "gold_min_accuracy", "gold_min_answers")
REVIEW_SETTINGS = (
    "review_rule",
    "review_threshold",
    "escalation_max_labels",
    "audit_slices",
    "audit_margin",
)


class ProjectSerializer(serializers.ModelSerializer):
    classes = LabelClassSerializer(many=True, read_only=True)
    my_role = serializers.CharField(read_only=True)

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "task_type",
            "overlap",
            "instructions",
            "current_round",
            "guideline_version",
            "taxonomy_version",
            "transcript_tokens",
            "allow_empty_transcripts",
            "created_at",
            "my_role",
            "classes",
            *GOLD_SETTINGS,
            *REVIEW_SETTINGS,
        ]

    def to_representation(self, project: Project) -> dict:
        data = super().to_representation(project)
        if getattr(project, "my_role", None) == Role.LABELER:  # blind: no hint of gold mixing
            for field in (*GOLD_SETTINGS, *REVIEW_SETTINGS):
                data.pop(field)
        return data


class MembershipSerializer(serializers.ModelSerializer):
    """What managers see of a member, including the running gold record and any pause."""

    username = serializers.CharField(source="user.username")

    class Meta:
        model = Membership
        fields = [
            "id",
            "username",
            "role",
            "created_at",
            "gold_answered",
            "gold_correct",
            "paused_at",
            "paused_reason",
        ]


def item_media_url(item: Item, *, thumbnail: bool = False) -> str | None:
    """Where a browser fetches the item's picture: our permission-checked view, or its URL."""
    if item.image:
        url = reverse("api:item-image", kwargs={"item_id": item.pk})
        return f"{url}?size=thumb" if thumbnail and item.thumbnail else url
    return item.image_url or None


def item_audio_url(item: Item) -> str | None:
    """Where a browser fetches the item's clip: our permission-checked view, or its URL."""
    if item.audio:
        return f"/api/v1/items/{item.pk}/audio/"
    return item.audio_url or None


class LabelerItemSerializer(serializers.ModelSerializer):
    """What a labeler sees of an item: the data only — never gold, slices or others' labels."""

    kind = serializers.CharField(read_only=True)
    image = serializers.SerializerMethodField()
    audio = serializers.SerializerMethodField()

    class Meta:
        model = Item
        fields = ["id", "external_id", "kind", "text", "image", "audio"]

    def get_image(self, item: Item) -> str | None:
        return item_media_url(item)

    def get_audio(self, item: Item) -> str | None:
        return item_audio_url(item)


class ItemSerializer(serializers.ModelSerializer):
    """What managers and engineers see of an item."""

    kind = serializers.CharField(read_only=True)
    image = serializers.SerializerMethodField()
    thumbnail = serializers.SerializerMethodField()
    audio = serializers.SerializerMethodField()
    gold = serializers.SlugRelatedField(
        source="gold_label", slug_field="key", read_only=True, allow_null=True
    )

    class Meta:
        model = Item
        fields = [
            "id",
            "external_id",
            "kind",
            "text",
            "image",
            "thumbnail",
            "audio",
            "slices",
            "metadata",
            "gold",
            "status",
            "round",
            "labels_done",
            "created_at",
        ]

    def get_image(self, item: Item) -> str | None:
        return item_media_url(item)

    def get_thumbnail(self, item: Item) -> str | None:
        return item_media_url(item, thumbnail=True)

    def get_audio(self, item: Item) -> str | None:
        return item_audio_url(item)


class AnnotationSerializer(serializers.ModelSerializer):
    labeler = serializers.CharField(source="labeler.username", read_only=True)
    label = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = Annotation
        fields = [
            "id",
            "item",
            "labeler",
            "round",
            "value",
            "label",
            "created_at",
            "time_spent_ms",
            "withdrawn",
            "withdrawn_at",
        ]
