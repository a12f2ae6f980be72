"""Who may see, use and change which hardware target: one place, used by the views, the search
validation, the cost computations and the comparison page.

- Shared targets (owner null): the built-in ones (HW-NAS-Bench devices, analytical) and the measured
  targets workers register. Everyone sees and uses them; only the admin changes them.
- A user's own target (owner set, project null): the owner sees, uses, edits and deletes it, in any
  of the owner's searches.
- A project's target (owner and project set): the project's members see it and use it in that
  project's searches; only its owner edits and deletes it.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404

from searches.access import visible_projects

from .models import HardwareTarget

SHARED = Q(owner__isnull=True)


def targets_for_user(user):
    """Every target the user may see (the target pages)."""
    if not user.is_authenticated:
        return HardwareTarget.objects.none()
    return HardwareTarget.objects.filter(SHARED | Q(owner=user) | Q(project__in=visible_projects(user)))


def usable_targets(project=None, user=None):
    """Targets a search of `project`, started by `user`, may be costed on: the shared ones, the project's
    and the user's own (not those the user made for another project). Neither given: the shared ones."""
    allowed = SHARED
    if project is not None:
        allowed |= Q(project=project)
    if user is not None and user.is_authenticated:
        allowed |= Q(owner=user, project__isnull=True)
    return HardwareTarget.objects.filter(allowed)


def targets_for_search(search):
    return usable_targets(search.project, search.created_by)


def target_for_user(user, target_id: int) -> HardwareTarget:
    """A target the user may see, or 404."""
    return get_object_or_404(targets_for_user(user), id=target_id)


def own_target(user, target_id: int) -> HardwareTarget:
    """A target the user may change: 404 if they cannot see it, 403 if it is shared or someone else's."""
    target = target_for_user(user, target_id)
    if target.owner_id != user.id:
        raise PermissionDenied("shared targets are changed in the admin" if target.is_shared
                               else "only the target's owner may change it")
    return target
