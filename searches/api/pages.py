"""The token settings page (browser, session auth): make a token (its key shown once), revoke one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from .. import services
from ..models import ApiToken


@login_required
def token_settings(request):
    new_key, error = None, None
    if request.method == "POST":
        try:
            token, new_key = services.create_token(request.user, request.POST.get("name", ""))
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(request, f"Token “{token.name}” made. Copy its key now: it is not shown again.")
    return render(request, "searches/token_settings.html", {
        "tokens": ApiToken.objects.filter(user=request.user), "new_key": new_key, "error": error,
        "name": request.POST.get("name", "") if error else "",
    })


@login_required
@require_POST
def token_revoke(request, token_id: int):
    if services.revoke_token(request.user, token_id):
        messages.success(request, "Token revoked: requests with it are refused from now on.")
    else:
        messages.warning(request, "No such active token.")
    return redirect("token_settings")
