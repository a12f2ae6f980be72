"""Thin views of pruning: "Prune this trial" (the form, then services.start_pruning_search), and
"Prune an uploaded model" (its files become a completed trial: services.import_trained_model; then the
same form on that trial's page)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from . import services
from .access import project_for_user, trial_for_user
from .forms import ModelUploadForm, PruningForm
from .request_data import posted, posted_files
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


@login_required
def model_upload(request, project_id):
    project = project_for_user(request.user, project_id)
    form = ModelUploadForm(posted(request), posted_files(request))
    if form.is_bound and form.is_valid():
        try:
            trial = services.import_trained_model(project, request.user, form.cleaned_data["spec"],
                                                  form.cleaned_data["state_dict"], name=form.cleaned_data["name"])
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Uploaded model recorded: {trial.description}, validation accuracy "
                                      f"{trial.val_accuracy:.3f} on this project's data. Choose the pruning budget.")
            return redirect("searches:trial_prune", trial.id)
    status = 400 if request.method == "POST" else 200
    return render(request, "searches/model_upload.html", {"project": project, "form": form}, status=status)


def _add_errors(form, exc: ValidationError) -> None:
    fields = {"budget_kind": "budget_metric", "target_metric": "budget_metric"}
    for field, texts in exc.message_dict.items():
        name = fields.get(field, field)
        for message in texts:
            form.add_error(name if name in form.fields else None, message)
