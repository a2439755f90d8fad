"""The runtime panel on the registry's agent page: recent denials with their reasons, and allows."""

from datetime import timedelta

from django.db.models import Sum
from django.utils import timezone

from runtime.models import AllowCount, DenialRecord

RECENT_DAYS = 7


def decisions_panel(request, agent) -> dict:
    since = timezone.now() - timedelta(days=RECENT_DAYS)
    denials = DenialRecord.objects.for_user(request.user).filter(agent=agent, minute__gte=since)
    by_reason = list(denials.order_by().values("reason").annotate(total=Sum("count")).order_by("-total", "reason"))
    recent = list(denials.select_related("credential").order_by("-last_at", "-id")[:10])
    allowed = (
        AllowCount.objects.for_user(request.user)
        .filter(agent=agent, day__gte=since.date())
        .aggregate(total=Sum("count"))["total"]
        or 0
    )
    return {
        "title": "Runtime decisions",
        "template": "runtime/_decisions_panel.html",
        "context": {"by_reason": by_reason, "recent": recent, "allowed": allowed, "days": RECENT_DAYS},
        "order": 5,
    }
