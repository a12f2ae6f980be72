"""Thin views of the read-only reports: trial page, compare, exports, CSV, share links and the shared page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from . import charts, services
from .access import project_for_user, search_for_user, trial_for_user
from .analysis_report import project_histories, search_analysis
from .export import FORMATS
from .export_loader import ExportError
from .models import ShareLink
from .query_numbers import whole_number
from .share_report import share_report
from .trial_export import export_trial, trials_csv
from .trial_report import compare_report, config_rows, trial_report

MAX_COMPARED = 4


def _download(filename: str, body: bytes, content_type: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def trial_detail(request, trial_id):
    trial = trial_for_user(request.user, trial_id)
    report = trial_report(trial)
    report["chart"] = charts.learning_curve_figure(report["curves"])
    return render(request, "searches/trial_detail.html", {
        "trial": trial, "search": trial.search, "report": report, "format_labels": FORMATS,
        "back": reverse("searches:search_detail", args=[trial.search_id]),
        "prune_refused": services.why_not_prunable(trial) if trial.state == trial.COMPLETE else "",
    })


@login_required
def trial_export_view(request, trial_id, fmt):
    trial = trial_for_user(request.user, trial_id)
    if fmt not in FORMATS:
        raise Http404("no such export format")
    try:
        filename, body = export_trial(trial, fmt)
    except ExportError as exc:
        messages.warning(request, str(exc))
        return redirect("searches:trial_detail", trial.id)
    return _download(filename, body, FORMATS[fmt][1])


@login_required
def search_trials_csv(request, search_id):
    filename, body = trials_csv(search_for_user(request.user, search_id))
    return _download(filename, body, "text/csv")


def compared_numbers(raw: list[str]) -> list[int]:
    """Trial numbers from ?trials=3&trials=5 or ?trials=3,5; ValidationError names a bad one."""
    numbers = []
    for part in ",".join(raw).replace(" ", ",").split(","):
        if not part:
            continue
        number = whole_number(part)
        if number is None:
            raise ValidationError(f"“{part[:40]}” is not a trial number")
        if number not in numbers:
            numbers.append(number)
    if not 2 <= len(numbers) <= MAX_COMPARED:
        raise ValidationError(f"choose 2 to {MAX_COMPARED} trials to compare, not {len(numbers)}")
    return numbers


@login_required
def trial_compare(request, search_id):
    search = search_for_user(request.user, search_id)
    try:
        numbers = compared_numbers(request.GET.getlist("trials"))
    except ValidationError as exc:
        messages.warning(request, " ".join(exc.messages))
        return redirect("searches:search_detail", search.id)
    found = {t.number: t for t in search.trials.filter(number__in=numbers)}
    missing = [n for n in numbers if n not in found]
    if missing:
        messages.warning(request, f"This search has no trial {missing[0]}.")
        return redirect("searches:search_detail", search.id)
    trials = [found[n] for n in numbers]
    report = compare_report(trials)
    report["chart"] = charts.compare_curves_figure(report["curves"])
    return render(request, "searches/trial_compare.html", {
        "search": search, "trials": trials, "report": report,
        "columns": list(zip(trials, report["diagrams"], strict=True))})


@login_required
@require_POST
def share_create(request, search_id):
    search = search_for_user(request.user, search_id)
    try:
        link = services.create_share_link(search, request.user, request.POST.get("label", ""))
    except ValidationError as exc:
        messages.warning(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Share link created: {request.build_absolute_uri(share_url(link))}")
    return redirect(reverse("searches:search_detail", args=[search.id]) + "#sharing")


@login_required
@require_POST
def share_revoke(request, search_id, link_id):
    search = search_for_user(request.user, search_id)
    if services.revoke_share_link(search, request.user, link_id):
        messages.success(request, "Share link revoked: it now answers “not found”.")
    return redirect(reverse("searches:search_detail", args=[search.id]) + "#sharing")


def share_url(link: ShareLink) -> str:
    return reverse("share_page", args=[link.token])


def share_page(request, token):
    """Open to anyone holding an active token; nothing else of the project is reachable from it."""
    link = get_object_or_404(ShareLink.objects.select_related("search__project__dataset", "search__space"),
                             token=token, revoked_at=None)
    search = link.search
    report = share_report(search)
    report["chart"] = charts.best_so_far_figure(report["trials"], search.primary_metric,
                                                search.primary_objective["direction"])
    report["cost_chart"] = charts.share_cost_figure(report.get("costs", []))
    return render(request, "searches/share_page.html", report)


def sharing_context(request, search) -> dict:
    """What the search page's downloads-and-sharing card needs (the owner sees and manages the links)."""
    owner = services.can_share(request.user, search)
    links = [{"link": link, "url": request.build_absolute_uri(share_url(link))}
             for link in search.share_links.all()] if owner else []
    return {"can_share": owner, "share_links": links, "config_rows": config_rows(search)}


@login_required
def search_analysis_view(request, search_id):
    """Parallel coordinates and importance of the decisions; ?partial=1 gives the fragment alone."""
    search = search_for_user(request.user, search_id)
    analysis = search_analysis(search)
    context = {"search": search, "analysis": analysis,
               "parcoords": charts.parallel_coordinates_figure(analysis["decisions"], analysis["trials"],
                                                               analysis["label"]),
               "importance_chart": charts.importance_figure(analysis["importance"])}
    template = "searches/_analysis.html" if request.GET.get("partial") else "searches/search_analysis.html"
    return render(request, template, context)


@login_required
def project_compare(request, project_id):
    """The project's searches on one chart: best so far against trials and against time."""
    project = project_for_user(request.user, project_id)
    histories = project_histories(project)
    return render(request, "searches/project_compare.html", {
        "project": project, "histories": histories, "any_points": any(h["points"] for h in histories),
        "by_trials": charts.project_comparison_figure(histories, "trials"),
        "by_time": charts.project_comparison_figure(histories, "time")})
