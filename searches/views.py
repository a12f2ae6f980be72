"""Thin views: check access, validate, call a service, render or redirect."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from devices.target_costs import in_process_cost_metrics

from . import charts, embedded, queries, search_status, services
from .access import project_for_user, search_for_user, visible_projects
from .clone import clone_initial
from .forms import ProjectForm, SearchForm, SignUpForm
from .oneshot.registry import ONESHOT_STRATEGIES
from .query_numbers import whole_number
from .report_views import sharing_context
from .request_data import posted, posted_files


def signup(request):
    form = SignUpForm(posted(request))
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        return redirect("searches:project_list")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def project_list(request):
    projects = visible_projects(request.user).select_related("dataset", "owner")
    return render(request, "searches/project_list.html", {"projects": projects})


@login_required
def project_create(request):
    form = ProjectForm(posted(request), posted_files(request))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            project = services.create_project_with_data(
                request.user, d["name"], d["description"], d["members"], d["dataset"],
                upload=d.get("upload_file"), upload_format=d.get("upload_format"), upload_options=form.upload_options())
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                for message in messages:
                    form.add_error(field if field in form.fields else None, message)
        else:
            return redirect("searches:project_detail", project.id)
    return render(request, "searches/project_form.html", {"form": form})


@login_required
def project_detail(request, project_id):
    project = project_for_user(request.user, project_id)
    searches = project.searches.select_related("space").order_by("-created_at")
    return render(request, "searches/project_detail.html", {"project": project, "searches": searches})


@login_required
def search_create(request, project_id):
    project = project_for_user(request.user, project_id)
    clone_id = whole_number(request.GET.get("clone"))
    source = project.searches.filter(id=clone_id).first() if clone_id is not None else None
    form = SearchForm(posted(request), project=project, user=request.user,
                      initial=clone_initial(source) if source else None)
    if request.method == "POST" and form.is_valid():
        search = _start_from_form(project, request.user, form)
        if search is not None:
            messages.success(request, f"Search “{search.name}” started.")
            return redirect("searches:search_detail", search.id)
    return render(request, "searches/search_form.html", {"project": project, "form": form})


@login_required
def search_space_size(request, project_id):
    """The exact number of architectures in the space the form's fields describe (the form's live line)."""
    project = project_for_user(request.user, project_id)
    return JsonResponse(SearchForm(request.GET, project=project).space_size())


def _start_from_form(project, user, form: SearchForm):
    spec = form.space_spec()
    if form.errors:
        return None
    d = form.cleaned_data
    try:
        return services.start_search(
            project, user, name=d["name"], space_kind=d["space_kind"], space_spec=spec,
            strategy=d["strategy"], strategy_settings=d["strategy_settings"], training=form.training(),
            objectives=form.objectives(), constraints=form.constraints(), pruner=d["pruner"],
            pruner_settings=d["pruner_settings"], warm_start_from=d["warm_start_from"], estimation=form.estimation(),
            max_trials=d["max_trials"], max_seconds=d["max_seconds"], parallelism=d["parallelism"],
            seed=d["seed"], device=d["device"], evaluator=d.get("evaluator") or "workers")
    except ValidationError as exc:
        form.add_service_errors(exc)
        return None


def search_state(search, query=None) -> dict:
    """The page's first paint: a summary whose size does not grow with the search (searches/queries.py)."""
    return {**queries.summary(search, query), **oneshot_state(search),
            "status": search_status.status(search, embedded.trial_lines())}


def search_charts_state(search) -> dict:
    points = queries.chart_points(search)
    primary, second = search.primary_objective, queries.second_objective(search)
    return {
        "best": charts.best_figure(points["best"], primary["metric"], primary["direction"]),
        "pareto": charts.pareto_points_figure(points["pareto"], second["metric"], second["direction"],
                                              primary["metric"], primary["direction"],
                                              in_process_cost_metrics(search.space.kind, project=search.project,
                                                                      user=search.created_by)),
    }


def oneshot_state(search) -> dict:
    """The supernet's progress for one-shot searches: weights heat map, curves, result."""
    if search.strategy not in ONESHOT_STRATEGIES:
        return {}
    history = [row.info | {"epoch": row.epoch} for row in search.oneshot_epochs.all()]
    result = search.oneshot_result
    latest = history[-1] if history else {}
    weights = result["arch_weights"][-1] if result.get("arch_weights") else latest.get("arch_weights", {})
    derived = {"arch": result["arch"], "description": result["description"]} if result else (
        {"arch": latest["derived_arch"], "description": latest.get("derived_description", "")}
        if "derived_arch" in latest else None)
    retrained = None
    if result and derived:
        key = search.space.build().key(derived["arch"])
        retrained = search.trials.filter(arch_key=key).values_list("number", flat=True).first()
    return {"oneshot": {
        "epochs": len(history), "derived": derived, "finished": bool(result), "retrained_as": retrained,
        "ranking": result.get("ranking"), "timings": result.get("timings"),
        "charts": {"weights": charts.arch_weights_figure(weights, latest.get("epoch")),
                   "supernet": charts.oneshot_curve_figure(history)},
    }}


@login_required
def search_detail(request, search_id):
    search = search_for_user(request.user, search_id)
    return render(request, "searches/search_detail.html", {
        "search": search, "project": search.project, "space": search.space.build(),
        "state": search_state(search), **sharing_context(request, search),
    })


def _bad_query(exc: queries.QueryError) -> JsonResponse:
    return JsonResponse({"error": str(exc)}, status=400)


@login_required
def search_data(request, search_id):
    search = search_for_user(request.user, search_id)
    try:
        return JsonResponse(search_state(search, request.GET))
    except queries.QueryError as exc:
        return _bad_query(exc)


@login_required
def search_leaderboard(request, search_id):
    """?sort=objective|number|val_accuracy|params|test_accuracy|epochs&dir=asc|desc&state=...&page=&per_page="""
    search = search_for_user(request.user, search_id)
    try:
        return JsonResponse(queries.leaderboard(search, queries.parse_board(search, request.GET)))
    except queries.QueryError as exc:
        return _bad_query(exc)


@login_required
def search_charts(request, search_id):
    """Cached per position of the search's event stream: a new event (a trial done) makes new charts."""
    search = search_for_user(request.user, search_id)
    key = f"search-charts:{search.id}:{':'.join(map(str, queries.stream_position(search)))}"
    figures = cache.get(key)
    if figures is None:
        figures = search_charts_state(search)
        cache.set(key, figures, 300)
    return JsonResponse(figures)


@login_required
def search_events(request, search_id):
    """?after=N&log=<incarnation>: the numbered events after N, or a reset."""
    search = search_for_user(request.user, search_id)
    after = whole_number(request.GET.get("after", "0"))
    if after is None:
        return _bad_query(queries.QueryError("after is a whole number: the last event number the page has"))
    answer = queries.events_after(search, after, request.GET.get("log", ""))
    return JsonResponse(answer | {"status": search_status.status(search, embedded.trial_lines())})


def _control(action):
    @login_required
    @require_POST
    def view(request, search_id):
        search = search_for_user(request.user, search_id)
        if not action(search):
            messages.warning(request, f"The search is {search.state}; nothing changed.")
        return redirect("searches:search_detail", search.id)
    return view


@login_required
@require_POST
def search_retrain(request, search_id):
    search = search_for_user(request.user, search_id)
    derived = oneshot_state(search).get("oneshot", {}).get("derived")
    if not search.oneshot_result or not derived:
        messages.warning(request, "The supernet has not derived an architecture yet.")
        return redirect("searches:search_detail", search.id)
    try:
        trial = services.retrain_architecture(search, derived["arch"])
    except ValidationError as exc:
        messages.warning(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Retraining the derived architecture as trial {trial.number}.")
    return redirect("searches:search_detail", search.id)


search_pause = _control(services.pause_search)
search_resume = _control(services.resume_search)
search_cancel = _control(services.cancel_search)
