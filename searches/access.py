"""Who may see what: one place, used by views and the websocket consumer."""

from __future__ import annotations

from django.db.models import Q
from django.shortcuts import get_object_or_404

from .models import Project, Search, Trial


def visible_projects(user):
    if not user.is_authenticated:
        return Project.objects.none()
    return Project.objects.filter(Q(owner=user) | Q(members=user)).distinct()


def project_for_user(user, project_id: int) -> Project:
    return get_object_or_404(visible_projects(user), id=project_id)


def search_for_user(user, search_id: int) -> Search:
    return get_object_or_404(
        Search.objects.select_related("project", "space").filter(project__in=visible_projects(user)), id=search_id)


def trial_for_user(user, trial_id: int) -> Trial:
    return get_object_or_404(
        Trial.objects.select_related("search", "search__project").filter(
            search__project__in=visible_projects(user)), id=trial_id)


def user_can_view_search(user, search_id: int) -> bool:
    if user is None or not user.is_authenticated:
        return False
    return Search.objects.filter(id=search_id, project__in=visible_projects(user)).exists()
