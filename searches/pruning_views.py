"""Thin view of "Prune this trial": the form, then services.start_pruning_search."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from . import services
from .access import trial_for_user
from .forms import PruningForm
from .services.pruning import PRUNING_STRATEGIES, budget_metrics


@login_required
def trial_prune(request, trial_id):
    trial = trial_for_user(request.user, trial_id)
    reason = services.why_not_prunable(trial)
    form = PruningForm(request.POST if request.method == "POST" and not reason else None,
                       budget_metrics=budget_metrics(trial, request.user), strategies=PRUNING_STRATEGIES)
    if form.is_bound and form.is_valid():
        try:
            search = services.start_pruning_search(trial, request.user,
                                                   services.PruningRequest(**form.request_fields()))
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            return redirect("searches:search_detail", search.id)
    status = 400 if request.method == "POST" else 200  # here after a POST: refused or invalid
    return render(request, "searches/trial_prune.html", {"trial": trial, "search": trial.search, "form": form,
                                                         "reason": reason}, status=status)


def _add_errors(form: PruningForm, exc: ValidationError) -> None:
    fields = {"budget_kind": "budget_metric", "target_metric": "budget_metric"}
    for field, messages in exc.message_dict.items():
        name = fields.get(field, field)
        for message in messages:
            form.add_error(name if name in form.fields else None, message)
