"""My API tokens: make one (shown once), see when each was last used, revoke. An Admin sees and revokes everyone's."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from batches.models import ApiToken, Workspace
from batches.services import tokens
from dashboard.access import HtmxHttpRequest
from dashboard.forms.tokens import TokenForm

ADMIN = "auth.change_user"  # who may revoke anyone's token: the Admin role
SENT = "token_forms_sent"  # session key: the ids of the token forms that made a token (TokenForm.once)


@never_cache  # the page that shows a new token once must not be kept by any cache
@require_http_methods(["GET", "POST"])
@login_required
def token_list(request: HtmxHttpRequest) -> HttpResponse:
    workspaces = Workspace.objects.filter(pk__in=tokens.user_rights(request.user)).order_by("name")
    form = TokenForm(request.POST or None, workspaces=workspaces)
    shown, status = None, 200
    sent = request.session.get(SENT, [])
    if request.method == "POST" and request.POST.get("once") and request.POST["once"] in sent:
        # The same form again (a reload of the page that showed the token): no second token.
        messages.info(request, "That form was sent already: its token is listed below, and its secret was shown once.")
        return redirect("api_tokens")
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                token, shown = tokens.issue(request.user, name=data["name"], workspaces=list(data["workspaces"]),
                                            role=data["role"], expires_days=data["expires_days"])  # fmt: skip
                if data["once"]:
                    request.session[SENT] = [*sent, data["once"]][-20:]
                form = TokenForm(workspaces=workspaces)
            except tokens.TokenError as exc:
                form.add_error(None, str(exc))
        status = 200 if shown else 400
    everyone = request.user.has_perm(ADMIN)
    listed = ApiToken.objects.select_related("user").prefetch_related("workspaces")
    listed = listed if everyone else listed.filter(user=request.user)
    context = {"form": form, "shown": shown, "tokens": listed[:500], "everyone": everyone}
    return render(request, "tokens.html", context, status=status)


@require_POST
@login_required
def token_revoke(request: HtmxHttpRequest, token_id: int) -> HttpResponse:
    mine = ApiToken.objects.all() if request.user.has_perm(ADMIN) else ApiToken.objects.filter(user=request.user)
    token = get_object_or_404(mine.select_related("user"), pk=token_id)
    if request.POST.get("confirmed") != "yes" and token.usable():
        # A pipeline that uses the token fails from its next call: one stray click must not do that.
        whose = "" if token.user_id == request.user.pk else f" of {token.user.get_username()}"
        return render(request, "confirm.html", {
            "title": f"Revoke token {token.prefix}…?", "action": request.path, "back": reverse("api_tokens"),
            "consequence": f"“{token.name}”{whose} is refused from its next call, by every script and pipeline that "
                           "uses it. A revoked token cannot be restored: a new one has to be made and handed out.",
            "yes": "Yes, revoke it", "no": "No, keep it",
        })  # fmt: skip
    if tokens.revoke(token, request.user):
        messages.success(request, f"Token {token.prefix}… revoked: it is refused from now on.")
    else:
        messages.info(request, f"Token {token.prefix}… was revoked already.")
    return redirect("api_tokens")
