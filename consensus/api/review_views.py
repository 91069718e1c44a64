"""Disagreement-review API: the queue, confusion pairs, an item's review, comments, decisions,
guidelines, rounds and notifications. Labelers are refused (403) everywhere here except
acknowledging a guideline and reading guidelines; non-members get 404."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.mixins import ProjectScopedMixin
from annotations.api.serializers import IdField, ItemSerializer
from annotations.models import Item, Role
from annotations.selectors import SEES_LABELS, item_get_for_user
from annotations.services.rounds import round_start
from consensus.models import Comment, DecisionOutcome, GuidelineVersion, ReviewDecision
from consensus.queue import (
    QueueFilters,
    disagreement_queue,
    item_flags,
    queue_labels,
    same_pair_items,
)
from consensus.selectors import (
    comment_list,
    decision_history,
    guideline_list,
    input_issue_list,
    item_ids_labeled,
    item_labels,
    labeler_reliability,
    notification_list,
    notification_unread_count,
)
from consensus.services.comments import comment_add, comment_edit
from consensus.services.decisions import decision_make
from consensus.services.guidelines import ExampleSpec, guideline_acknowledge, guideline_publish
from consensus.services.notifications import notifications_mark_read
from labelhub.errors import NotFoundError

#: Who decides disputed items and edits guidelines: the SME and the project's manager.
DECIDERS = (Role.REVIEWER, Role.MANAGER)
#: Who starts rounds.
MANAGERS = (Role.MANAGER,)
MAX_PAGE = 200


class QueueFilterSerializer(serializers.Serializer):
    pair = serializers.RegexField(
        r"^[\w-]+,[\w-]+$",
        required=False,
        error_messages={"invalid": "Use pair=<class>,<class>, e.g. pair=scratch,discoloration."},
    )
    label_class = serializers.SlugField(required=False)
    slice = serializers.ListField(
        child=serializers.RegexField(
            r"^[^:]+:.*$", error_messages={"invalid": "Use slice=name:value, e.g. camera:A."}
        ),
        required=False,
    )
    round = serializers.IntegerField(min_value=1, required=False)
    labeler = serializers.CharField(max_length=150, required=False)
    flagged = serializers.BooleanField(required=False, allow_null=True, default=None)
    decided = serializers.BooleanField(required=False, default=False)

    def to_filters(self) -> QueueFilters:
        data = self.validated_data
        return QueueFilters(
            pair=tuple(data["pair"].split(",")) if "pair" in data else None,
            label_class=data.get("label_class"),
            slices=dict(s.split(":", 1) for s in data.get("slice", [])),
            round=data.get("round"),
            labeler=data.get("labeler"),
            flagged=data.get("flagged"),
            decided=data["decided"],
        )


def queue_filters(raw: dict, params=None) -> QueueFilters:
    """Validate queue filters from query parameters (``params``) or a JSON object (``raw``)."""
    data = dict(raw)
    if "class" in data:
        data["label_class"] = data.pop("class")
    if params is not None:
        data["slice"] = params.getlist("slice")
    elif isinstance(data.get("slice"), str):
        data["slice"] = [data["slice"]]
    filters = QueueFilterSerializer(data=data)
    filters.is_valid(raise_exception=True)
    return filters.to_filters()


class PageSerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE, default=50)
    offset = serializers.IntegerField(min_value=0, default=0)


def _items_by_id(ids: list[int]) -> dict[int, Item]:
    return {i.pk: i for i in Item.objects.filter(pk__in=ids).select_related("gold_label")}


class DisagreementListApi(ProjectScopedMixin, APIView):
    """The disagreement queue, ranked by priority (see ``consensus.queue``). Filters:
    ``pair=a,b``, ``class=``, ``slice=name:value`` (repeatable), ``round=``, ``labeler=``
    (username), ``flagged=true|false``, ``decided=true`` (items already decided);
    ``limit``/``offset`` page through it."""

    project_roles = {"GET": SEES_LABELS}

    @extend_schema(responses={200: dict})
    def get(self, request: Request, project_id: int) -> Response:
        project = self.get_project()
        params = request.query_params
        filters = queue_filters(params.dict(), params)
        page = PageSerializer(data=params)
        page.is_valid(raise_exception=True)
        limit, offset = page.validated_data["limit"], page.validated_data["offset"]
        queue = disagreement_queue(project=project, filters=filters)
        entries = queue.page(offset, limit)
        ids = [e.item_id for e in entries]
        items, flags = _items_by_id(ids), item_flags(item_ids=ids)
        labels = queue_labels(item_ids=ids)
        results = [
            {
                "item": ItemSerializer(items[e.item_id]).data,
                "priority": e.priority,
                "strength": e.strength,
                "pair": list(e.pair) if e.pair else None,
                "round": e.round,
                "majority_share": e.majority_share,
                "confidence": e.confidence,
                "consensus": e.consensus,
                "labels": [
                    {"labeler": who, "label": label} for who, label in labels.get(e.item_id, [])
                ],
                "flags": flags.get(e.item_id, []),
            }
            for e in entries
        ]
        return Response(
            {"count": queue.count, "limit": limit, "offset": offset, "results": results}
        )


class DisagreementPairsApi(ProjectScopedMixin, APIView):
    """Confusion pairs among the queued items, with counts (the same filters, except ``pair``)."""

    project_roles = {"GET": SEES_LABELS}

    @extend_schema(responses={200: dict})
    def get(self, request: Request, project_id: int) -> Response:
        params = request.query_params.copy()
        params.pop("pair", None)
        filters = queue_filters(params.dict(), params)
        queue = disagreement_queue(project=self.get_project(), filters=filters)
        total = queue.count
        pairs = [
            {**p, "share": round(p["items"] / total, 4) if total else None} for p in queue.pairs
        ]
        return Response({"queued_items": total, "pairs": pairs})


class DecisionSerializer(serializers.ModelSerializer):
    # None for outcomes that pick no class (input insufficient, instructions ambiguous).
    label = serializers.SlugRelatedField(slug_field="key", read_only=True, allow_null=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True)
    guideline_version = serializers.IntegerField(source="guideline.version", allow_null=True)

    class Meta:
        model = ReviewDecision
        fields = [
            "id",
            "item",
            "round",
            "revision",
            "current",
            "outcome",
            "label",
            "text",
            "reason",
            "decided_by",
            "decided_at",
            "guideline_version",
        ]


class ItemDecisionApi(APIView):
    """GET: the item's decision history, newest first. POST: decide (reviewers and managers);
    a revision names the current decision in ``revises``; a concurrent or unnamed revision
    answers 409 with the decision that stands."""

    class DecisionInputSerializer(serializers.Serializer):
        outcome = serializers.ChoiceField(choices=DecisionOutcome.choices)
        label = serializers.CharField(max_length=64, required=False, allow_blank=True)
        text = serializers.CharField(
            max_length=10_000, required=False, allow_blank=True, trim_whitespace=False
        )
        reason = serializers.CharField(max_length=5000, allow_blank=True)
        revises = IdField(required=False, allow_null=True)

    @extend_schema(responses=DecisionSerializer(many=True))
    def get(self, request: Request, item_id: int) -> Response:
        item_get_for_user(user=request.user, item_id=item_id, roles=SEES_LABELS)
        return Response(DecisionSerializer(decision_history(item_id=item_id), many=True).data)

    @extend_schema(request=DecisionInputSerializer, responses={201: DecisionSerializer})
    def post(self, request: Request, item_id: int) -> Response:
        item_get_for_user(user=request.user, item_id=item_id, roles=DECIDERS)
        data = self.DecisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        decision = decision_make(
            item_id=item_id,
            decided_by=request.user,
            outcome=values["outcome"],
            reason=values["reason"],
            label_key=values.get("label") or None,
            text=values.get("text"),
            revises=values.get("revises"),
        )
        decision = decision_history(item_id=item_id).get(pk=decision.pk)
        return Response(DecisionSerializer(decision).data, status=status.HTTP_201_CREATED)


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)
    mentions = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    history = serializers.SerializerMethodField()

    class Meta:
        model = Comment
        fields = ["id", "item", "author", "body", "mentions", "created_at", "edited_at", "history"]

    def get_history(self, comment: Comment) -> list[dict]:
        return [
            {"body": r.body, "replaced_at": r.replaced_at}
            for r in sorted(comment.revisions.all(), key=lambda r: r.replaced_at)
        ]


class CommentBodySerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10_000, allow_blank=True, trim_whitespace=False)


class ItemCommentListApi(APIView):
    """The item's discussion (reviewers, engineers, managers): GET the thread, POST a comment
    (markdown; ``@username`` mentions a member, who is notified)."""

    @extend_schema(responses=CommentSerializer(many=True))
    def get(self, request: Request, item_id: int) -> Response:
        item_get_for_user(user=request.user, item_id=item_id, roles=SEES_LABELS)
        return Response(CommentSerializer(comment_list(item_id=item_id), many=True).data)

    @extend_schema(request=CommentBodySerializer, responses={201: CommentSerializer})
    def post(self, request: Request, item_id: int) -> Response:
        item = item_get_for_user(user=request.user, item_id=item_id, roles=SEES_LABELS)
        data = CommentBodySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = comment_add(item=item, author=request.user, body=data.validated_data["body"])
        comment = comment_list(item_id=item_id).get(pk=comment.pk)
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class CommentEditApi(APIView):
    """PATCH: the author edits a comment; earlier bodies stay in ``history``."""

    @extend_schema(request=CommentBodySerializer, responses=CommentSerializer)
    def patch(self, request: Request, comment_id: int) -> Response:
        item_id = Comment.objects.filter(pk=comment_id).values_list("item_id", flat=True).first()
        if item_id is None:
            raise NotFoundError("Comment not found.")
        item_get_for_user(user=request.user, item_id=item_id, roles=SEES_LABELS)
        data = CommentBodySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment_edit(comment_id=comment_id, editor=request.user, body=data.validated_data["body"])
        return Response(CommentSerializer(comment_list(item_id=item_id).get(pk=comment_id)).data)


class ItemReviewApi(APIView):
    """Everything the review page shows of one item: the item, every label with its labeler
    and the labeler's reliability, flags, the consensus, decisions, the discussion, and other
    queued items with the same confusion pair."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request, item_id: int) -> Response:
        item = item_get_for_user(user=request.user, item_id=item_id, roles=SEES_LABELS)
        project = item.project
        reliability = labeler_reliability(project=project)
        labels = [
            {**row, "reliability": reliability.get(row["labeler_id"])}
            for row in item_labels(item_id=item_id)
        ]
        current = [row for row in labels if row["round"] == item.round]
        order = {c.key: i for i, c in enumerate(project.classes.order_by("order", "id"))}
        counts: dict[str, int] = {}
        for row in sorted(current, key=lambda row: order.get(row["label"], len(order))):
            counts[row["label"]] = counts.get(row["label"], 0) + 1
        # The queue's confusion pair: the two most chosen classes, ties by class order.
        top = sorted(counts, key=lambda k: (-counts[k], order.get(k, len(order))))[:2]
        same_pair = same_pair_items(project=project, item_id=item.pk)
        neighbours = _items_by_id(same_pair)
        decisions = decision_history(item_id=item_id)
        return Response(
            {
                "item": ItemSerializer(item).data,
                "project": {"id": project.pk, "name": project.name, "my_role": project.my_role},
                "labels": labels,
                "counts": counts,
                "pair": sorted(top, key=lambda k: order.get(k, len(order)))
                if len(top) == 2
                else None,
                "flags": item_flags(item_ids=[item.pk]).get(item.pk, []),
                "decisions": DecisionSerializer(decisions, many=True).data,
                "comments": CommentSerializer(comment_list(item_id=item_id), many=True).data,
                "same_pair": [ItemSerializer(neighbours[i]).data for i in same_pair],
                "can_decide": project.my_role in DECIDERS,
            }
        )


class ExampleSerializer(serializers.Serializer):
    item = IdField()
    label = serializers.SlugField()
    is_example = serializers.BooleanField(default=True)
    note = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class GuidelineSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    examples = serializers.SerializerMethodField()
    decisions = serializers.SerializerMethodField()

    class Meta:
        model = GuidelineVersion
        fields = [
            "version",
            "body",
            "changelog",
            "created_by",
            "created_at",
            "examples",
            "decisions",
        ]

    def get_examples(self, guideline: GuidelineVersion) -> list[dict]:
        return [
            {
                "item": e.item_id,
                "external_id": e.item.external_id,
                "label": e.label.key,
                "is_example": e.is_example,
                "note": e.note,
            }
            for e in guideline.examples.all()
        ]

    def to_representation(self, guideline: GuidelineVersion) -> dict:
        data = super().to_representation(guideline)
        if self.context.get("role") == Role.LABELER:
            # A decision's reason may quote other labelers' labels: labelers label blind.
            data.pop("decisions")
        return data

    def get_decisions(self, guideline: GuidelineVersion) -> list[dict]:
        return [
            {"id": d.pk, "item": d.item_id, "reason": d.reason} for d in guideline.decisions.all()
        ]


class GuidelineListApi(ProjectScopedMixin, APIView):
    """GET: published versions, newest first, with ``acknowledged`` (the caller's newest
    acknowledged version). POST (reviewers, managers): publish the next version."""

    project_roles = {"POST": DECIDERS}

    class GuidelineInputSerializer(serializers.Serializer):
        body = serializers.CharField(max_length=100_000, allow_blank=True)
        changelog = serializers.CharField(
            max_length=5000, required=False, default="", allow_blank=True
        )
        examples = ExampleSerializer(many=True, required=False, default=list)
        decisions = serializers.ListField(child=IdField(), required=False, allow_null=True)

    @extend_schema(responses={200: dict})
    def get(self, request: Request, project_id: int) -> Response:
        project = self.get_project()
        acknowledged = project.memberships.filter(user=request.user).values_list(
            "guideline_acknowledged", flat=True
        )
        return Response(
            {
                "current_version": project.guideline_version,
                "acknowledged": acknowledged.first() or 0,
                "versions": GuidelineSerializer(
                    guideline_list(project=project), many=True, context={"role": project.my_role}
                ).data,
            }
        )

    @extend_schema(request=GuidelineInputSerializer, responses={201: GuidelineSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project = self.get_project()
        data = self.GuidelineInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        version = guideline_publish(
            project=project,
            author=request.user,
            body=values["body"],
            changelog=values["changelog"],
            examples=[ExampleSpec(**e) for e in values["examples"]],
            decision_ids=values.get("decisions"),
        )
        version = guideline_list(project=project).get(pk=version.pk)
        return Response(GuidelineSerializer(version).data, status=status.HTTP_201_CREATED)


class GuidelineAcknowledgeApi(ProjectScopedMixin, APIView):
    """A member acknowledges having read a version (labelers must, before labeling again)."""

    @extend_schema(request=None, responses={200: dict})
    def post(self, request: Request, project_id: int, version: int) -> Response:
        project = self.get_project()
        acknowledged = guideline_acknowledge(project=project, user=request.user, version=version)
        return Response(
            {"acknowledged": acknowledged, "current_version": project.guideline_version}
        )


class RoundStartApi(ProjectScopedMixin, APIView):
    """Managers start a new round on ``items`` (ids), on the queue items matching ``filter``
    (the queue's filters, e.g. ``{"pair": "scratch,discoloration"}``), or on every item now
    ``labeled`` a class (its consensus or an SME's label: the way to split a class — add the new
    classes, then have those items labeled again). 201 with the round."""

    project_roles = {"POST": MANAGERS, "GET": SEES_LABELS}

    class RoundInputSerializer(serializers.Serializer):
        items = serializers.ListField(child=IdField(), required=False, max_length=100_000)
        filter = serializers.DictField(required=False)
        labeled = serializers.CharField(required=False, max_length=64)

        def validate(self, attrs):
            if sum(key in attrs for key in ("items", "filter", "labeled")) != 1:
                raise serializers.ValidationError(
                    {"items": "Give one of items (ids), filter (queue filters) or labeled."}
                )
            return attrs

    @extend_schema(responses={200: dict})
    def get(self, request: Request, project_id: int) -> Response:
        project = self.get_project()
        rounds = project.rounds.order_by("number").values("number", "started_at", "is_open")
        return Response({"current_round": project.current_round, "rounds": list(rounds)})

    @extend_schema(request=RoundInputSerializer, responses={201: dict})
    def post(self, request: Request, project_id: int) -> Response:
        project = self.get_project()
        data = self.RoundInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if "filter" in data.validated_data:
            filters = queue_filters(data.validated_data["filter"])
            queue = disagreement_queue(project=project, filters=filters)
            item_ids = queue.item_ids
        elif "labeled" in data.validated_data:
            item_ids = item_ids_labeled(project=project, class_key=data.validated_data["labeled"])
        else:
            item_ids = data.validated_data["items"]
        new_round = round_start(project=project, item_ids=item_ids, started_by=request.user)
        return Response(
            {
                "number": new_round.number,
                "items": len(set(item_ids)),
                "started_at": new_round.started_at,
            },
            status=status.HTTP_201_CREATED,
        )


class InputIssueListApi(ProjectScopedMixin, APIView):
    """Items whose input lacks information (recapture, better lighting): for the data owner."""

    project_roles = {"GET": SEES_LABELS}

    class InputIssueOutputSerializer(serializers.Serializer):
        item = ItemSerializer()
        reason = serializers.CharField()
        decided_by = serializers.CharField()
        decided_at = serializers.DateTimeField()

    @extend_schema(responses={200: InputIssueOutputSerializer(many=True)})
    def get(self, request: Request, project_id: int) -> Response:
        rows = input_issue_list(project=self.get_project())[:1000]
        return Response(
            [
                {
                    "item": ItemSerializer(d.item).data,
                    "reason": d.reason,
                    "decided_by": d.decided_by.username,
                    "decided_at": d.decided_at,
                }
                for d in rows
            ]
        )


class NotificationListApi(APIView):
    """The caller's notifications, newest first (``?unread=true``), with the unread count."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        unread_only = request.query_params.get("unread", "").lower() in {"1", "true", "yes"}
        rows = notification_list(user_id=request.user.pk, unread_only=unread_only)[:100]
        return Response(
            {
                "unread": notification_unread_count(user_id=request.user.pk),
                "results": [
                    {
                        "id": n.pk,
                        "kind": n.kind,
                        "project": n.project_id,
                        "project_name": n.project.name,
                        "item": n.item_id,
                        "item_external_id": n.item.external_id if n.item_id else None,
                        "count": n.count,
                        "by": n.comment.author.username if n.comment_id else None,
                        "created_at": n.created_at,
                        "updated_at": n.updated_at,
                        "read": n.read_at is not None,
                    }
                    for n in rows
                ],
            }
        )


class NotificationReadApi(APIView):
    """Mark notifications read: ``{"ids": [...]}``, or all of them without ids."""

    class ReadInputSerializer(serializers.Serializer):
        ids = serializers.ListField(child=IdField(), required=False, max_length=1000)

    @extend_schema(request=ReadInputSerializer, responses={200: dict})
    def post(self, request: Request) -> Response:
        data = self.ReadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        marked = notifications_mark_read(
            user_id=request.user.pk, ids=data.validated_data.get("ids")
        )
        return Response(
            {"marked": marked, "unread": notification_unread_count(user_id=request.user.pk)}
        )
