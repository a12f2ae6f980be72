"""API views, thin like the pages': access (searches/access.py: outsiders get 404), validate, call a
service, answer with a serializer. Errors are JSON (errors.py)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from .. import services
from ..access import project_for_user, search_for_user, trial_for_user, visible_projects
from ..benchmarks.registry import BENCHMARKS
from ..engine_data import model_inputs
from ..export_loader import ExportError
from ..models import ApiToken, Dataset, Search, ShareLink, Trial
from ..query_numbers import whole_number
from ..services.external import heartbeat_seconds
from ..services.search_spec import validate_space
from ..spaces.registry import SPACES
from ..training.datasets import BUILTIN_DATASETS
from ..trial_export import export_trial, trials_csv
from . import serializers as s
from .pagination import trial_page
from .specs import SearchSpecSerializer, spec_document, start_from_spec


def _valid(serializer_class, request, **kwargs) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- datasets and projects --------------------------------------------------------------------
def visible_uploads(user):
    return Dataset.objects.filter(source=Dataset.UPLOAD, owner=user)


class DatasetList(APIView):
    @extend_schema(responses=s.DatasetChoiceSerializer(many=True), summary="Built-in and benchmark datasets, "
                   "and your uploads: the choices of a new project")
    def get(self, request):
        choices = [{"choice": f"builtin:{k}", "label": d.label, "task": d.task} for k, d in BUILTIN_DATASETS.items()]
        choices += [{"choice": f"benchmark:{k}", "label": b.label, "task": "classification"}
                    for k, b in BENCHMARKS.items()]
        choices += [{"choice": f"upload:{d.id}", "label": d.name, "task": d.task}
                    for d in visible_uploads(request.user)]
        return Response(s.DatasetChoiceSerializer(choices, many=True).data)

    @extend_schema(request={"multipart/form-data": s.DatasetUploadSerializer}, responses={201: s.DatasetSerializer},
                   summary="Upload a dataset (checked in full before it is stored)")
    def post(self, request):
        d = _valid(s.DatasetUploadSerializer, request)
        options = {"label_column": d.get("label_column"), "seq_len": d.get("seq_len")}
        dataset = services.upload_dataset(request.user, d["file"], d["format"], options)
        return Response(s.DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)


def dataset_for_choice(user, choice: str) -> Dataset:
    source, _, key = choice.partition(":")
    if source == Dataset.UPLOAD:
        upload_id = whole_number(key)
        dataset = visible_uploads(user).filter(id=upload_id).first() if upload_id is not None else None
        if dataset is None:
            raise ValidationError({"dataset": f"no upload {key!r} of yours; POST /api/datasets/ first"})
        return dataset
    if source not in (Dataset.BUILTIN, Dataset.BENCHMARK):
        raise ValidationError({"dataset": 'use "builtin:<key>", "benchmark:<key>" or "upload:<id>"'})
    return services.dataset_by_choice(choice)


class ProjectList(APIView):
    @extend_schema(responses=s.ProjectSerializer(many=True), summary="Projects you own or are a member of")
    def get(self, request):
        projects = visible_projects(request.user).select_related("dataset", "owner").prefetch_related("members")
        return Response(s.ProjectSerializer(projects, many=True).data)

    @extend_schema(request=s.ProjectCreateSerializer, responses={201: s.ProjectSerializer}, summary="New project")
    def post(self, request):
        d = _valid(s.ProjectCreateSerializer, request)
        names = sorted(set(d["members"]))
        members = list(get_user_model().objects.filter(username__in=names))
        missing = sorted(set(names) - {u.username for u in members})
        if missing:
            raise ValidationError({"members": f"no such user: {', '.join(missing)}"})
        dataset = dataset_for_choice(request.user, d["dataset"])
        project = services.create_project(request.user, d["name"], dataset, d["description"], members)
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetail(APIView):
    @extend_schema(responses=s.ProjectSerializer)
    def get(self, request, project_id: int):
        return Response(s.ProjectSerializer(project_for_user(request.user, project_id)).data)


# --- search spaces ----------------------------------------------------------------------------
class SpaceList(APIView):
    @extend_schema(responses=s.SpaceKindSerializer(many=True), summary="The search spaces, their settings "
                   "and the exact size of their default spec")
    def get(self, request):
        kinds = [{"kind": kind, "label": cls.label, "tasks": list(cls.tasks), "default_spec": cls.default_spec(),
                  "default_size": str(cls().size()),
                  "fields": [{"name": f.name, "kind": f.kind, "label": f.label, "help": f.help or "",
                              "options": [str(o) for o in (f.options or [])]} for f in cls.spec_fields()]}
                 for kind, cls in SPACES.items()]
        return Response(s.SpaceKindSerializer(kinds, many=True).data)


class SpaceSize(APIView):
    @extend_schema(request=s.SpaceSizeRequestSerializer, responses=s.SpaceSizeSerializer,
                   summary="Check a space spec and count its architectures exactly")
    def post(self, request):
        d = _valid(s.SpaceSizeRequestSerializer, request)
        space = validate_space(d["kind"], d["spec"])
        size = space.size()
        return Response(s.SpaceSizeSerializer({"kind": d["kind"], "spec": space.spec, "size": str(size),
                                               "log10_size": space.log10_size()}).data)


# --- searches ---------------------------------------------------------------------------------
def searches_for(user):
    return Search.objects.select_related("project", "space").filter(project__in=visible_projects(user))


class SearchList(APIView):
    @extend_schema(parameters=[OpenApiParameter("project", int), OpenApiParameter("state", str)],
                   responses=s.SearchSerializer(many=True), summary="Searches of your projects")
    def get(self, request):
        searches = searches_for(request.user)
        project = request.query_params.get("project")
        if project:
            project_id = whole_number(project)
            if project_id is None:
                raise ValidationError({"project": "a project id"})
            searches = searches.filter(project_id=project_id)
        if request.query_params.get("state"):
            searches = searches.filter(state=request.query_params["state"])
        return Response(s.SearchSerializer(searches, many=True).data)


class ProjectSearches(APIView):
    @extend_schema(responses=s.SearchSerializer(many=True), summary="The project's searches")
    def get(self, request, project_id: int):
        project = project_for_user(request.user, project_id)
        return Response(s.SearchSerializer(searches_for(request.user).filter(project=project), many=True).data)

    @extend_schema(request=SearchSpecSerializer, responses={201: s.SearchSerializer},
                   summary="Start a search from its JSON spec (the form's fields and checks)")
    def post(self, request, project_id: int):
        project = project_for_user(request.user, project_id)
        search = start_from_spec(project, request.user, request.data)
        return Response(s.SearchSerializer(search).data, status=status.HTTP_201_CREATED)


class SearchDetail(APIView):
    @extend_schema(responses=s.SearchSerializer)
    def get(self, request, search_id: int):
        return Response(s.SearchSerializer(search_for_user(request.user, search_id)).data)


class SearchSpec(APIView):
    @extend_schema(responses=SearchSpecSerializer, summary="The spec that starts this search again")
    def get(self, request, search_id: int):
        return Response(spec_document(search_for_user(request.user, search_id)))


def _control(action, summary: str):
    class Control(APIView):
        @extend_schema(request=None, responses={200: s.ControlResultSerializer,
                                                409: OpenApiResponse(description="the search's state allows no "
                                                                                 "such change")}, summary=summary)
        def post(self, request, search_id: int):
            search = search_for_user(request.user, search_id)
            changed = action(search)
            search.refresh_from_db()
            body = {"changed": changed, "search": search}
            if not changed:
                return Response({"detail": f"the search is {search.state}; nothing changed", "state": search.state},
                                status=status.HTTP_409_CONFLICT)
            return Response(s.ControlResultSerializer(body).data)
    Control.__name__ = Control.__qualname__ = f"Search{action.__name__.split('_')[0].capitalize()}"
    return Control


SearchPause = _control(services.pause_search, "Pause: running trials finish, no new ones start")
SearchResume = _control(services.resume_search, "Resume a paused search")
SearchCancel = _control(services.cancel_search, "Cancel: queued trials now, running ones at their next epoch")


class SearchClone(APIView):
    @extend_schema(request=s.CloneSerializer, responses={201: s.SearchSerializer},
                   summary="Start a copy of the search, optionally with changed fields")
    def post(self, request, search_id: int):
        search = search_for_user(request.user, search_id)
        overrides = _valid(s.CloneSerializer, request)["overrides"]
        spec = {**spec_document(search), "name": f"{search.name} (copy)"[:120], **overrides}
        clone = start_from_spec(search.project, request.user, spec)
        return Response(s.SearchSerializer(clone).data, status=status.HTTP_201_CREATED)


# --- trials -----------------------------------------------------------------------------------
TRIAL_LIST_PARAMETERS = [
    OpenApiParameter("sort", str, description="best (default: the leaderboard's order), number, epochs_done, "
                                              "val_accuracy, params or an objective metric; - for descending"),
    OpenApiParameter("state", str, description="comma separated, e.g. complete,pruned"),
    OpenApiParameter("min_val_accuracy", float), OpenApiParameter("max_params", float),
    OpenApiParameter("limit", int, description="1 to 500, default 50"),
    OpenApiParameter("cursor", str, description="from the previous page's `next`"),
]


class TrialList(APIView):
    @extend_schema(parameters=TRIAL_LIST_PARAMETERS, responses=s.TrialPageSerializer,
                   summary="The search's trials: sorted, filtered, a page at a time")
    def get(self, request, search_id: int):
        search = search_for_user(request.user, search_id)
        page = trial_page(search, request.query_params)
        next_url = None
        if page["cursor"]:
            query = request.query_params.copy()
            query["cursor"] = page["cursor"]
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response(s.TrialPageSerializer({**page, "next": next_url}).data)


class TrialCsv(APIView):
    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR}, summary="All trials as CSV, one row each")
    def get(self, request, search_id: int):
        search = search_for_user(request.user, search_id)
        filename, body = trials_csv(search)  # the one CSV, also the search page's (searches/trial_export.py)
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class TrialDetail(APIView):
    @extend_schema(responses=s.TrialSerializer)
    def get(self, request, trial_id: int):
        return Response(s.TrialSerializer(trial_for_user(request.user, trial_id)).data)


class TrialMetrics(APIView):
    @extend_schema(responses=s.TrialMetricSerializer(many=True), summary="Every epoch's metrics of the trial")
    def get(self, request, trial_id: int):
        trial = trial_for_user(request.user, trial_id)
        return Response(s.TrialMetricSerializer(trial.epoch_metrics.all(), many=True).data)


class TrialExport(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
                   summary="A completed trial's model: spec (JSON), state_dict, torchscript or onnx")
    def get(self, request, trial_id: int, fmt: str):
        trial = trial_for_user(request.user, trial_id)
        try:
            filename, body = export_trial(trial, fmt)  # the one implementation (searches/trial_export.py)
        except ExportError as exc:
            raise ValidationError({"format": str(exc)}) from None
        response = HttpResponse(body, content_type="application/octet-stream")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


# --- share links -------------------------------------------------------------------------------
def share_link_body(request, link: ShareLink) -> dict:
    return {"id": link.id, "label": link.label, "active": link.active, "created_at": link.created_at,
            "revoked_at": link.revoked_at, "url": request.build_absolute_uri(reverse("share_page", args=[link.token]))}


class ShareLinks(APIView):
    @extend_schema(responses=s.ShareLinkSerializer(many=True),
                   summary="The search's read-only share links (the project's owner only)")
    def get(self, request, search_id: int):
        search = search_for_user(request.user, search_id)
        if not services.can_share(request.user, search):
            raise PermissionDenied("only the project's owner sees its share links")
        return Response([share_link_body(request, link) for link in search.share_links.all()])

    @extend_schema(request=s.ShareLinkRequestSerializer, responses={201: s.ShareLinkSerializer},
                   summary="Make a read-only link to the search's plain-words page; no login needed to open it")
    def post(self, request, search_id: int):
        search = search_for_user(request.user, search_id)
        label = _valid(s.ShareLinkRequestSerializer, request).get("label", "")
        link = services.create_share_link(search, request.user, label)
        return Response(share_link_body(request, link), status=status.HTTP_201_CREATED)


class ShareLinkDetail(APIView):
    @extend_schema(responses={204: None}, summary="Revoke a share link: it answers 404 from now on")
    def delete(self, request, search_id: int, link_id: int):
        search = search_for_user(request.user, search_id)
        if not services.revoke_share_link(search, request.user, link_id):
            raise Http404("no active share link with that id")
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- ask/tell ---------------------------------------------------------------------------------
def external_trial(trial: Trial) -> dict:
    search = trial.search
    inputs = model_inputs(search.project.dataset, search.seed)
    dataset = search.project.dataset
    return {
        "id": trial.id, "number": trial.number, "attempt": trial.attempt, "arch": trial.arch,
        "description": trial.description,
        "space": {"kind": search.space.kind, "spec": search.space.spec},
        "model_inputs": {"input_shape": list(inputs.input_shape), "num_classes": inputs.num_classes,
                         "task": inputs.task, "vocab_size": inputs.vocab_size},
        "dataset": {"source": dataset.source, "builtin_key": dataset.builtin_key, "name": dataset.name},
        "training": search.training,
        "build": ("from searches.spaces.registry import build_space\n"
                  f"model = build_space({search.space.kind!r}, {search.space.spec!r}).to_torch(\n"
                  f"    {trial.arch!r}, {tuple(inputs.input_shape)!r}, {inputs.num_classes!r}, "
                  f"task={inputs.task!r}, vocab_size={inputs.vocab_size!r})\n"),
    }


class SearchAsk(APIView):
    @extend_schema(request=s.AskRequestSerializer, responses=s.AskResponseSerializer,
                   summary="Ask for the next architecture to train (external searches)")
    def post(self, request, search_id: int):
        search = search_for_user(request.user, search_id)
        worker = _valid(s.AskRequestSerializer, request)["worker"] or "script"
        trial = services.ask_trial(search, worker=f"external:{request.user.username}:{worker}"[:200])
        finished = search.state in Search.FINAL_STATES
        body = {"trial": external_trial(trial) if trial else None, "search_state": search.state,
                "finished": finished and trial is None, "heartbeat_seconds": heartbeat_seconds(),
                "retry_after": None if trial or finished else max(1, min(heartbeat_seconds(), 5))}
        return Response(s.AskResponseSerializer(body).data)


def _progress(trial_id: int, accepted: bool, keep_going: bool) -> Response:
    state = Trial.objects.filter(id=trial_id).values_list("state", flat=True).first()
    return Response(s.TrialProgressSerializer({"accepted": accepted, "keep_going": keep_going and
                                                state == Trial.RUNNING, "state": state}).data)


class TrialPrune(APIView):
    @extend_schema(request=s.PruneSerializer, responses={201: s.SearchSerializer},
                   summary="Start a pruning search of this completed trial's trained model")
    def post(self, request, trial_id: int):
        trial = trial_for_user(request.user, trial_id)
        fields = _valid(s.PruneSerializer, request)
        search = services.start_pruning_search(trial, request.user, services.PruningRequest(**fields))
        return Response(s.SearchSerializer(search).data, status=status.HTTP_201_CREATED)


class TrialReport(APIView):
    @extend_schema(request=s.ReportSerializer, responses=s.TrialProgressSerializer,
                   summary="Report one epoch's metrics (pruners decide on them; keep_going false: stop)")
    def post(self, request, trial_id: int):
        trial = trial_for_user(request.user, trial_id)
        d = _valid(s.ReportSerializer, request)
        keep_going = services.report_epoch(trial, d["epoch"], d["metrics"], attempt=d.get("attempt"))
        return _progress(trial.id, accepted=trial.state == Trial.RUNNING, keep_going=keep_going)


class TrialTell(APIView):
    @extend_schema(request=s.TellSerializer, responses=s.TrialProgressSerializer,
                   summary="Tell the final metrics, or that the trial failed")
    def post(self, request, trial_id: int):
        trial = trial_for_user(request.user, trial_id)
        d = _valid(s.TellSerializer, request)
        accepted = services.tell_trial(trial, metrics=d.get("metrics"), error=d.get("error"),
                                       attempt=d.get("attempt"))
        return _progress(trial.id, accepted=accepted, keep_going=False)


class TrialHeartbeat(APIView):
    @extend_schema(request=s.HeartbeatSerializer, responses=s.TrialProgressSerializer,
                   summary="Still training: keeps the trial from being declared lost")
    def post(self, request, trial_id: int):
        trial = trial_for_user(request.user, trial_id)
        alive = services.heartbeat(trial, attempt=_valid(s.HeartbeatSerializer, request).get("attempt"))
        return _progress(trial.id, accepted=alive, keep_going=alive)


# --- tokens -----------------------------------------------------------------------------------
class TokenList(APIView):
    throttle_scope = "tokens"

    def get_throttles(self):
        return super().get_throttles() if self.request.method == "POST" else []

    @extend_schema(responses=s.TokenSerializer(many=True), summary="Your API tokens (never their keys)")
    def get(self, request):
        return Response(s.TokenSerializer(ApiToken.objects.filter(user=request.user), many=True).data)

    @extend_schema(request=s.TokenCreateSerializer, responses={201: s.NewTokenSerializer},
                   summary="Make a token; its key is in this answer only")
    def post(self, request):
        token, key = services.create_token(request.user, _valid(s.TokenCreateSerializer, request)["name"])
        token.key = key
        return Response(s.NewTokenSerializer(token).data, status=status.HTTP_201_CREATED)


class TokenDetail(APIView):
    throttle_scope = "tokens"

    @extend_schema(request=None, responses={204: None}, summary="Revoke a token")
    def delete(self, request, token_id: int):
        token = get_object_or_404(ApiToken, id=token_id, user=request.user)
        services.revoke_token(request.user, token.id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiRoot(APIView):
    @extend_schema(exclude=True)
    def get(self, request):
        return Response({"schema": reverse("api:schema", request=request),
                         "projects": reverse("api:project_list", request=request),
                         "searches": reverse("api:search_list", request=request)})
