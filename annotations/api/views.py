"""Thin API views: validate input, call one selector or service, serialize the result."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import FileResponse, HttpResponseBase
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.media import ranged_file_response
from annotations.api.mixins import ProjectScopedMixin
from annotations.api.serializers import (
    AnnotationSerializer,
    IdField,
    ItemSerializer,
    LabelClassSerializer,
    LabelerItemSerializer,
    MembershipSerializer,
    ProjectSerializer,
)
from annotations.models import (
    ClassKind,
    FlagKind,
    Item,
    ItemStatus,
    LabelClass,
    ReviewRule,
    Role,
    TaskType,
)
from annotations.selectors import (
    SEES_ITEMS,
    annotation_list,
    item_list,
    label_class_list,
    labeler_progress,
    membership_list,
    membership_role,
    project_get_for_user,
    project_list_for_user,
)
from annotations.services.annotations import (
    TRANSCRIPT_MAX,
    annotation_submit,
    annotation_withdraw,
)
from annotations.services.assignments import assignment_next, assignment_skip
from annotations.services.flags import item_flag
from annotations.services.gold import membership_unpause
from annotations.services.imports import items_import_file, items_import_records
from annotations.services.projects import (
    ClassSpec,
    label_class_create,
    label_class_delete,
    label_class_update,
    membership_set,
    project_create,
    project_update,
)
from labelhub.errors import ApplicationError, NotFoundError
from labelhub.validation import StrictJSONParser

MANAGERS = (Role.MANAGER,)
_WITH_CLASSES = Prefetch("classes", queryset=LabelClass.objects.order_by("order", "id"))


class ClassInputSerializer(serializers.Serializer):
    key = serializers.SlugField(max_length=64)
    name = serializers.CharField(max_length=120, required=False, default="")
    kind = serializers.ChoiceField(choices=ClassKind.choices, default=ClassKind.NORMAL)
    hotkey = serializers.RegexField(r"^[0-9a-zA-Z]$", required=False, default="")

    def to_spec(self) -> ClassSpec:
        return ClassSpec(**self.validated_data)


class ProjectListCreateApi(generics.ListAPIView):
    """GET: the caller's projects. POST: create a project; the caller becomes its manager."""

    serializer_class = ProjectSerializer

    class ProjectCreateInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        description = serializers.CharField(required=False, default="", allow_blank=True)
        task_type = serializers.ChoiceField(
            choices=TaskType.choices, default=TaskType.CLASSIFICATION
        )
        overlap = serializers.IntegerField(min_value=1, max_value=50, default=3)
        instructions = serializers.CharField(required=False, default="", allow_blank=True)
        classes = ClassInputSerializer(many=True, required=False, default=list)
        transcript_tokens = serializers.ListField(
            child=serializers.CharField(max_length=40, trim_whitespace=False),
            required=False,
            default=list,
            max_length=50,
        )
        allow_empty_transcripts = serializers.BooleanField(required=False, default=False)

    def get_queryset(self):
        return project_list_for_user(user=self.request.user).prefetch_related(_WITH_CLASSES)

    @extend_schema(request=ProjectCreateInputSerializer, responses={201: ProjectSerializer})
    def post(self, request: Request) -> Response:
        data = self.ProjectCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        classes = [ClassSpec(**c) for c in fields.pop("classes")]
        project = project_create(creator=request.user, classes=classes, **fields)
        project = project_get_for_user(user=request.user, project_id=project.pk)
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailApi(ProjectScopedMixin, APIView):
    """GET: any member. PATCH: managers."""

    project_roles = {"PATCH": MANAGERS}

    class ProjectUpdateInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200, required=False)
        description = serializers.CharField(required=False, allow_blank=True)
        instructions = serializers.CharField(required=False, allow_blank=True)
        overlap = serializers.IntegerField(min_value=1, max_value=50, required=False)
        gold_rate = serializers.FloatField(min_value=0, max_value=1, required=False)
        gold_onboarding = serializers.IntegerField(min_value=0, max_value=1000, required=False)
        gold_min_accuracy = serializers.FloatField(
            min_value=0, max_value=1, required=False, allow_null=True
        )
        gold_min_answers = serializers.IntegerField(min_value=1, max_value=10_000, required=False)
        review_rule = serializers.ChoiceField(choices=ReviewRule.choices, required=False)
        review_threshold = serializers.FloatField(min_value=0, max_value=1, required=False)
        escalation_max_labels = serializers.IntegerField(min_value=0, max_value=20, required=False)
        audit_slices = serializers.ListField(
            child=serializers.CharField(max_length=100), max_length=20, required=False
        )
        audit_margin = serializers.FloatField(min_value=0, max_value=1, required=False)

    @extend_schema(responses=ProjectSerializer)
    def get(self, request: Request, project_id: int) -> Response:
        return Response(ProjectSerializer(self.get_project()).data)

    @extend_schema(request=ProjectUpdateInputSerializer, responses=ProjectSerializer)
    def patch(self, request: Request, project_id: int) -> Response:
        project = self.get_project()
        data = self.ProjectUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project_update(project=project, changes=data.validated_data)
        project = project_get_for_user(user=request.user, project_id=project.pk)
        return Response(ProjectSerializer(project).data)


class LabelClassListCreateApi(ProjectScopedMixin, generics.ListAPIView):
    """GET: any member. POST: managers add a class."""

    serializer_class = LabelClassSerializer
    pagination_class = None
    project_roles = {"POST": MANAGERS}

    def get_queryset(self):
        return label_class_list(project=self.get_project(), include_merged=True)

    @extend_schema(request=ClassInputSerializer, responses={201: LabelClassSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project = self.get_project()
        data = ClassInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        label = label_class_create(project=project, spec=data.to_spec())
        return Response(LabelClassSerializer(label).data, status=status.HTTP_201_CREATED)


class LabelClassUpdateApi(ProjectScopedMixin, APIView):
    """PATCH: managers rename, reorder or re-key a class (its ``key`` is fixed). DELETE: managers
    remove a class nothing refers to; one with labels is refused (409 ``class_in_use``: merge it
    into another class instead, which keeps every raw label)."""

    project_roles = {"PATCH": MANAGERS, "DELETE": MANAGERS}

    class LabelClassUpdateInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=120, required=False)
        order = serializers.IntegerField(min_value=0, max_value=10_000, required=False)
        hotkey = serializers.RegexField(r"^[0-9a-zA-Z]?$", required=False)

    @extend_schema(request=LabelClassUpdateInputSerializer, responses=LabelClassSerializer)
    def patch(self, request: Request, project_id: int, class_id: int) -> Response:
        project = self.get_project()
        label_class = label_class_list(project=project).filter(pk=class_id).first()
        if label_class is None:
            raise NotFoundError("Class not found.")
        data = self.LabelClassUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        label_class = label_class_update(label_class=label_class, **data.validated_data)
        return Response(LabelClassSerializer(label_class).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: int, class_id: int) -> Response:
        project = self.get_project()
        label_class_delete(project=project, class_id=class_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MembershipListCreateApi(ProjectScopedMixin, generics.ListAPIView):
    """Managers list members, add a user by username, or change a member's role."""

    serializer_class = MembershipSerializer
    pagination_class = None
    project_roles = {"GET": MANAGERS, "POST": MANAGERS}

    class MembershipSetInputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        role = serializers.ChoiceField(choices=Role.choices)

    def get_queryset(self):
        return membership_list(project=self.get_project())

    @extend_schema(request=MembershipSetInputSerializer, responses={201: MembershipSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project = self.get_project()
        data = self.MembershipSetInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership, created = membership_set(project=project, **data.validated_data)
        return Response(
            MembershipSerializer(membership).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class MembershipUnpauseApi(ProjectScopedMixin, APIView):
    """Managers lift a labeler's pause (their gold record starts afresh)."""

    project_roles = {"POST": MANAGERS}

    class MembershipUnpauseInputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)

    @extend_schema(request=MembershipUnpauseInputSerializer, responses=MembershipSerializer)
    def post(self, request: Request, project_id: int) -> Response:
        project = self.get_project()
        data = self.MembershipUnpauseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = membership_unpause(project=project, **data.validated_data)
        return Response(MembershipSerializer(membership).data)


class ItemListApi(ProjectScopedMixin, generics.ListAPIView):
    """Managers and engineers: ``?status=open|complete``, ``?slice=camera:A`` (repeatable),
    ``?has_gold=true|false``; cursor-paginated, newest first."""

    serializer_class = ItemSerializer
    project_roles = {"GET": SEES_ITEMS}

    class ItemFilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=ItemStatus.choices, required=False)
        slice = serializers.ListField(
            child=serializers.RegexField(
                r"^[^:]+:.*$",
                error_messages={"invalid": "Use slice=name:value, e.g. slice=camera:A."},
            ),
            required=False,
        )
        has_gold = serializers.BooleanField(required=False, allow_null=True, default=None)

    def get_queryset(self):
        filters = self.ItemFilterSerializer(
            data={
                **self.request.query_params.dict(),
                "slice": self.request.query_params.getlist("slice"),
            }
        )
        filters.is_valid(raise_exception=True)
        values = filters.validated_data
        slices = dict(s.split(":", 1) for s in values.get("slice", []))
        return item_list(
            project=self.get_project(),
            status=values.get("status"),
            slices=slices,
            has_gold=values.get("has_gold"),
        )


class ItemRecordSerializer(serializers.Serializer):
    """One item record (annotations/importers.py), for the schema: the importer validates
    records itself, row by row. Exactly one of ``data``, ``text``, ``image_url``, ``image``,
    ``audio_url``, ``audio``."""

    external_id = serializers.CharField(max_length=255)
    data = serializers.CharField(required=False, help_text="Text, or an http(s) image URL.")
    text = serializers.CharField(required=False)
    image_url = serializers.URLField(required=False)
    image = serializers.CharField(required=False, help_text="A file name in an uploaded archive.")
    audio_url = serializers.URLField(required=False)
    audio = serializers.CharField(
        required=False, help_text="An audio file's name in an uploaded archive."
    )
    slices = serializers.DictField(required=False)
    gold = serializers.CharField(required=False, help_text="The gold class key.")


class ItemImportApi(ProjectScopedMixin, APIView):
    """Managers import items: a JSON list of records, or a multipart ``file`` (JSON, JSONL, CSV,
    zip of images and/or audio clips). All or nothing: a bad row answers 400 naming the row, and
    nothing is written."""

    parser_classes = [StrictJSONParser, MultiPartParser, FormParser]
    project_roles = {"POST": MANAGERS}

    @extend_schema(
        request={
            "application/json": ItemRecordSerializer(many=True),
            "multipart/form-data": inline_serializer(
                "ItemFileUpload", {"file": serializers.FileField()}
            ),
        },
        responses={
            201: inline_serializer("ItemImportResult", {"created": serializers.IntegerField()})
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = self.get_project()
        upload = request.FILES.get("file")
        if upload is not None:
            created = items_import_file(project=project, filename=upload.name, handle=upload)
        elif request.content_type.startswith("application/json"):
            created = items_import_records(project=project, records=request.data)
        else:
            raise ApplicationError("invalid", "Send a JSON list of items or a file.", field="file")
        return Response({"created": created}, status=status.HTTP_201_CREATED)


class ItemImageApi(APIView):
    """The item's image (or ``?size=thumb``), for members of its project only."""

    @extend_schema(responses={(200, "image/*"): bytes})
    def get(self, request: Request, item_id: int) -> FileResponse:
        item = Item.objects.filter(pk=item_id).only("project_id", "image", "thumbnail").first()
        if item is None or membership_role(user=request.user, project_id=item.project_id) is None:
            raise NotFoundError("Item not found.")
        field = item.thumbnail if request.query_params.get("size") == "thumb" else item.image
        if not field:
            raise NotFoundError("This item has no stored image.")
        response = FileResponse(field.open("rb"))
        response["Cache-Control"] = "private, max-age=3600"
        return response


class ItemAudioApi(APIView):
    """The item's uploaded audio clip, with HTTP Range support so players can seek (see
    ``annotations/api/media.py``). Managers, reviewers and engineers of its project may fetch
    any clip; a labeler only clips of items assigned to them (blind labeling: a labeler does not
    browse the project's data). Everyone else: 404, so an item's existence does not leak."""

    @extend_schema(responses={(200, "audio/*"): bytes, (206, "audio/*"): bytes})
    def get(self, request: Request, item_id: int) -> HttpResponseBase:
        item = Item.objects.filter(pk=item_id).only("project_id", "audio").first()
        role = membership_role(user=request.user, project_id=item.project_id) if item else None
        if item is None or role is None:
            raise NotFoundError("Item not found.")
        if role == Role.LABELER and not item.assignments.filter(labeler=request.user).exists():
            raise NotFoundError("Item not found.")
        if not item.audio:
            raise NotFoundError("This item has no stored audio.")
        return ranged_file_response(item.audio, request.headers.get("Range"))


class AssignmentNextApi(ProjectScopedMixin, APIView):
    """A labeler leases their next item: 200 with the item, or 204 when nothing is left."""

    project_roles = {"POST": (Role.LABELER,)}

    class AssignmentNextOutputSerializer(serializers.Serializer):
        assignment = serializers.IntegerField(source="pk")
        round = serializers.IntegerField()
        lease_expires_at = serializers.DateTimeField()
        item = LabelerItemSerializer()

    @extend_schema(request=None, responses={200: AssignmentNextOutputSerializer, 204: None})
    def post(self, request: Request, project_id: int) -> Response:
        assignment = assignment_next(project=self.get_project(), labeler=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(self.AssignmentNextOutputSerializer(assignment).data)


class AssignmentSkipApi(APIView):
    """A labeler passes on an item for this round."""

    @extend_schema(request=None, responses={200: dict})
    def post(self, request: Request, item_id: int) -> Response:
        assignment = assignment_skip(item_id=item_id, labeler=request.user)
        return Response({"item": assignment.item_id, "status": assignment.status})


class ItemFlagCreateApi(APIView):
    """A labeler flags the item they hold or labeled: ``{"kind": "unsure"|"input_unclear",
    "note"}``. Reviewers see flags in the disagreement queue; labelers only their own."""

    class FlagInputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=FlagKind.choices)
        note = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)

    @extend_schema(request=FlagInputSerializer, responses={201: dict})
    def post(self, request: Request, item_id: int) -> Response:
        data = self.FlagInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        flag = item_flag(labeler=request.user, item_id=item_id, **data.validated_data)
        return Response(
            {"item": flag.item_id, "round": flag.round, "kind": flag.kind, "note": flag.note},
            status=status.HTTP_201_CREATED,
        )


class AnnotationSubmitApi(APIView):
    """Submit a label. The same ``idempotency_key`` again answers 200 with the first result."""

    class AnnotationSubmitValueSerializer(serializers.Serializer):
        """``{"label": "<class key>"}`` (classification) or ``{"text": "..."}`` (transcription);
        the service checks which one the item's project takes."""

        label = serializers.CharField(max_length=120, required=False, trim_whitespace=False)
        text = serializers.CharField(
            max_length=TRANSCRIPT_MAX, required=False, allow_blank=True, trim_whitespace=False
        )

        def to_internal_value(self, data):
            if isinstance(data, dict) and (set(data) - {"label", "text"} or len(data) != 1):
                raise serializers.ValidationError(
                    {
                        "label": 'A value is {"label": "<class key>"} or {"text": "..."}, '
                        "exactly one of them."
                    }
                )
            return super().to_internal_value(data)

    class AnnotationSubmitInputSerializer(serializers.Serializer):
        item = IdField()
        value = serializers.DictField()
        idempotency_key = serializers.CharField(max_length=128)
        time_spent_ms = serializers.IntegerField(
            min_value=0, max_value=86_400_000, required=False, allow_null=True
        )

    @extend_schema(request=AnnotationSubmitInputSerializer, responses={201: AnnotationSerializer})
    def post(self, request: Request) -> Response:
        data = self.AnnotationSubmitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        value = self.AnnotationSubmitValueSerializer(data=data.validated_data["value"])
        if not value.is_valid():
            raise serializers.ValidationError({"value": value.errors})
        result = annotation_submit(
            labeler=request.user,
            item_id=data.validated_data["item"],
            value=dict(value.validated_data),
            idempotency_key=data.validated_data["idempotency_key"],
            time_spent_ms=data.validated_data.get("time_spent_ms"),
        )
        return Response(
            AnnotationSerializer(result.annotation).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class AnnotationWithdrawApi(APIView):
    """Undo: the labeler withdraws their own annotation; the item comes back to them."""

    @extend_schema(request=None, responses={200: AnnotationSerializer})
    def post(self, request: Request, annotation_id: int) -> Response:
        annotation = annotation_withdraw(labeler=request.user, annotation_id=annotation_id)
        return Response(AnnotationSerializer(annotation).data)


class AnnotationListApi(ProjectScopedMixin, generics.ListAPIView):
    """Managers, reviewers and engineers see all annotations; a labeler only their own.
    ``?include_withdrawn=true`` adds withdrawn rows."""

    serializer_class = AnnotationSerializer

    def get_queryset(self):
        flag = self.request.query_params.get("include_withdrawn", "false").lower()
        return annotation_list(
            project=self.get_project(),
            user=self.request.user,
            include_withdrawn=flag in {"1", "true", "yes"},
        )


class ProgressApi(ProjectScopedMixin, APIView):
    """The caller's labels in this project and how many items still need labels."""

    class ProgressOutputSerializer(serializers.Serializer):
        my_labels = serializers.IntegerField()
        items_total = serializers.IntegerField()
        items_open = serializers.IntegerField()

    @extend_schema(responses=ProgressOutputSerializer)
    def get(self, request: Request, project_id: int) -> Response:
        progress = labeler_progress(project=self.get_project(), user=request.user)
        return Response(self.ProgressOutputSerializer(progress).data)
