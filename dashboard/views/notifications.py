"""Notifications: each user's own subscription; Admins' channels, rules, thresholds and the delivery log."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from batches.models import Delivery, DeliveryAttempt, NotificationChannel, NotifyThresholds
from batches.services import audit
from batches.services.handoff import enqueue
from batches.services.notify import send
from batches.tasks import send_notifications
from dashboard.access import HtmxHttpRequest, can_view, role_required, visible_workspaces
from dashboard.forms import ChannelForm, DeliveryFilterForm, MyNotificationsForm, ThresholdsForm
from dashboard.forms.fields import row_id
from dashboard.outcomes import WORKER_UNREACHABLE
from dashboard.queries import query_without

manage = role_required("manage_notifications")


@require_http_methods(["GET", "POST"])
@can_view
def my_notifications(request: HtmxHttpRequest) -> HttpResponse:
    mine = NotificationChannel.objects.filter(owner=request.user).prefetch_related("workspaces").first()
    initial = {"enabled": bool(mine and mine.is_active), "email": mine.address if mine else request.user.email,
               "events": mine.events if mine else [], "digest": mine.digest if mine else "",
               "workspaces": list(mine.workspaces.all()) if mine else []}  # fmt: skip
    may = lambda codename: request.user.has_perm(f"batches.{codename}")  # noqa: E731 - in any workspace
    form = MyNotificationsForm(request.POST or None, initial=initial, workspaces=visible_workspaces(request), may=may)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        channel = mine or NotificationChannel(owner=request.user, kind=NotificationChannel.Kind.EMAIL)
        channel.name = f"{request.user.get_username()} (my notifications)"
        channel.address, channel.events, channel.digest = data["email"], data["events"], data["digest"]
        channel.is_active = data["enabled"]
        channel.save()
        channel.workspaces.set(data["workspaces"])
        messages.success(request, "Saved." if data["enabled"] else "Saved: no email will be sent to you.")
        return redirect("my_notifications")
    return render(request, "notify/my.html", {"form": form, "mine": mine})


@require_http_methods(["GET", "POST"])
@manage
def channel_list(request: HtmxHttpRequest) -> HttpResponse:
    """Every channel with its rule, and the thresholds (saved here)."""
    thresholds = NotifyThresholds.current()
    form = ThresholdsForm(request.POST or None, instance=thresholds)
    if request.method == "POST" and form.is_valid():
        form.save()
        audit.record(request.user, "notification_change", "thresholds",
                     params={k: str(v) for k, v in form.cleaned_data.items()})  # fmt: skip
        messages.success(request, "Thresholds saved.")
        return redirect("notification_channels")
    channels = NotificationChannel.objects.select_related("owner").prefetch_related("workspaces")
    return render(request, "notify/channels.html", {"channels": channels, "form": form})


@require_http_methods(["GET", "POST"])
@manage
def channel_edit(request: HtmxHttpRequest, channel_id: int | None = None) -> HttpResponse:
    channel = get_object_or_404(NotificationChannel, pk=channel_id, env_key="") if channel_id else None
    form = ChannelForm(request.POST or None, instance=channel)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        # On the record without the secret: which fields changed, and its hint if it was replaced.
        params = {"fields": [n for n in form.changed_data if n != "secret"], "created": channel is None}
        if form.cleaned_data.get("secret"):
            params["secret"] = saved.secret_hint
        audit.record(request.user, "notification_change", f"channel {saved.name}", params=params)
        messages.success(request, f"Channel {saved.name} saved.")
        return redirect("notification_channels")
    return render(request, "notify/channel_form.html", {"form": form, "channel": channel})


@require_POST
@manage
def channel_delete(request: HtmxHttpRequest, channel_id: int) -> HttpResponse:
    channel = get_object_or_404(NotificationChannel, pk=channel_id, env_key="")
    audit.record(request.user, "notification_change", f"channel {channel.name}", params={"deleted": True})
    channel.delete()
    messages.success(request, f"Channel {channel.name} deleted, with its delivery log.")
    return redirect("notification_channels")


@require_http_methods(["GET"])
@manage
def delivery_log(request: HtmxHttpRequest) -> HttpResponse:
    """Each delivery, newest first, with every attempt: status, response code, error."""
    form = DeliveryFilterForm(request.GET)
    deliveries = form.filter(Delivery.objects.select_related("event__workspace", "channel")).prefetch_related(
        Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("at", "id"))
    )
    page = Paginator(deliveries.order_by("-created_at", "-id"), 50).get_page(request.GET.get("page"))
    return render(request, "notify/deliveries.html",
                  {"form": form, "page": page, "query": query_without(request.GET, "page")})  # fmt: skip


@require_POST
@manage
def delivery_resend(request: HtmxHttpRequest) -> HttpResponse:
    ids = [i for i in map(row_id, request.POST.getlist("delivery")) if i is not None]  # anything else names none
    queued = send.resend(ids)
    sent = enqueue(send_notifications) if queued else True
    audit.record(request.user, "notification_resend", f"{queued} deliveries", params={"deliveries": ids[:50]})
    note = "" if sent else f" {WORKER_UNREACHABLE}"  # they are due in the database: the beat's tick sends them
    (messages.success if sent else messages.warning)(
        request, f"{queued} deliver{'y' if queued == 1 else 'ies'} queued again, same event id.{note}"
    )
    back = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    # A path only: redirect() reads any other word as the name of a view ("abc": NoReverseMatch, a 500).
    return redirect(back if back.startswith("/") and safe else "delivery_log")
