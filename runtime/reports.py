"""Decision figures for the layers above (the portfolio's per-unit table): two grouped queries."""

from datetime import timedelta

from django.db.models import Sum

from runtime.models import AllowCount, DenialRecord


def decisions_by_unit(agents, now, days: int = 7) -> list[dict]:
    """Per business unit of ``agents`` (a queryset the reader may see): decisions allowed and denied over
    the last ``days`` days, and the most frequent denial reason. Units without decisions are left out."""
    since = now - timedelta(days=days)
    ids = agents.values("pk")
    rows: dict[str, dict] = {}
    allows = (
        AllowCount.objects.filter(agent__in=ids, day__gte=since.date())
        .order_by()
        .values("agent__business_unit__name")
        .annotate(total=Sum("count"))
    )
    for row in allows:
        unit = row["agent__business_unit__name"]
        rows.setdefault(unit, {"unit": unit, "allowed": 0, "denied": 0, "reasons": {}})["allowed"] += row["total"]
    denials = (
        DenialRecord.objects.filter(agent__in=ids, minute__gte=since)
        .order_by()
        .values("agent__business_unit__name", "reason")
        .annotate(total=Sum("count"))
    )
    for row in denials:
        unit = row["agent__business_unit__name"]
        entry = rows.setdefault(unit, {"unit": unit, "allowed": 0, "denied": 0, "reasons": {}})
        entry["denied"] += row["total"]
        entry["reasons"][row["reason"]] = entry["reasons"].get(row["reason"], 0) + row["total"]
    out = []
    for entry in rows.values():
        reasons = entry.pop("reasons")
        entry["top_reason"] = max(reasons, key=lambda r: (reasons[r], r)) if reasons else ""
        total = entry["allowed"] + entry["denied"]
        entry["denied_share"] = round(100 * entry["denied"] / total) if total else 0
        out.append(entry)
    return sorted(out, key=lambda e: (-e["denied"], e["unit"]))
