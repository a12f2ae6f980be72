"""Thin views: check access, validate, call a service, render or redirect."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from searches.access import search_for_user
from searches.query_numbers import whole_number
from searches.request_data import posted

from . import charts, queries, services
from .access import own_target, targets_for_user
from .forms import TargetForm


@login_required
def target_list(request):
    targets = targets_for_user(request.user).select_related("owner", "project").annotate(
        measurement_count=Count("measurements"))
    return render(request, "devices/target_list.html", {
        "targets": targets, "missing_defaults": services.missing_default_targets(),
    })


@login_required
def target_create(request):
    form = TargetForm(posted(request), user=request.user)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            target = services.create_target(d["name"], d["kind"], form.specs(), form.ranking_metric(),
                                            owner=request.user, project=d["project"])
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Target “{target.name}” created.")
            return redirect("devices:target_list")
    return render(request, "devices/target_form.html", {"form": form})


@login_required
def target_edit(request, target_id):
    target = own_target(request.user, target_id)
    form = TargetForm(posted(request), user=request.user, initial=TargetForm.initial_for(target))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.update_target(target, d["name"], d["kind"], form.specs(), form.ranking_metric(),
                                   project=d["project"])
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Target “{target.name}” saved.")
            return redirect("devices:target_list")
    return render(request, "devices/target_form.html", {"form": form, "target": target})


@login_required
@require_POST
def target_delete(request, target_id):
    target = own_target(request.user, target_id)
    services.delete_target(target)
    messages.success(request, f"Target “{target.name}” deleted.")
    return redirect("devices:target_list")


@login_required
@require_POST
def target_defaults(request):
    services.ensure_default_targets()
    return redirect("devices:target_list")


def _ids(text: str | None) -> list[int]:
    return [number for part in (text or "").split(",") if (number := whole_number(part)) is not None]


def comparison_state(search, query) -> dict:
    """The page's data and figures. `trials` in the query chooses trials (absent: the best five);
    `highlight` rings one architecture on every target's Pareto chart."""
    chosen = _ids(query["trials"]) if "trials" in query else None
    highlight = next(iter(_ids(query.get("highlight"))), None)
    data = queries.comparison(search, chosen, highlight)
    return {**data, "charts": charts.comparison_figures(data), "search": {"id": search.id, "state": search.state},
            "socket": f"/ws/searches/{search.id}/"}


@login_required
def search_devices(request, search_id):
    search = search_for_user(request.user, search_id)
    return render(request, "devices/search_devices.html", {
        "search": search, "project": search.project, "state": comparison_state(search, request.GET),
    })


@login_required
def search_devices_data(request, search_id):
    return JsonResponse(comparison_state(search_for_user(request.user, search_id), request.GET))


@login_required
@require_POST
def search_devices_compute(request, search_id):
    search = search_for_user(request.user, search_id)
    services.request_search_costs(search)
    messages.success(request, "Computing the missing costs: they appear here as they are stored.")
    return redirect("devices:search_devices", search.id)


@login_required
@require_POST
def search_devices_measure(request, search_id):
    """Any one trial on request: its costs on every target, from the measuring workers."""
    search = search_for_user(request.user, search_id)
    number = request.POST.get("number", "")
    trial_number = whole_number(number)
    trial = search.trials.filter(number=trial_number).first() if trial_number is not None else None
    if trial is None or trial.state != "complete":
        messages.warning(request, f"Trial {number or '?'} is not a complete trial of this search.")
    else:
        services.request_trial_costs(trial)
        messages.success(request, f"Measuring trial {trial.number} on every target: costs appear as they are stored.")
    return redirect("devices:search_devices", search.id)
