"""Thin Celery wrappers around the portfolio's services."""

from celery import shared_task
from django.utils import timezone

from portfolio import services


@shared_task(name="portfolio.take_snapshot")
def take_snapshot() -> dict:
    """The daily snapshot behind the trend charts."""
    snapshot = services.take_portfolio_snapshot(timezone.now())
    return {"taken_on": snapshot.taken_on.isoformat(), "lines": snapshot.lines.count()}
