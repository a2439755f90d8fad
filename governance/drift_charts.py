"""The agent page's drift panel: one small server-side SVG per watched metric, 90 days, the band of the
jump test's baseline and the days that left it, with a table view of the same numbers.

Presentation attributes only (no <style>, no script: the CSP allows them), a <title>/<desc> for every
chart and a <title> per point outside the band, like the portfolio's charts."""

import html
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import count

from django.utils.safestring import SafeString, mark_safe

from governance.drift import ALL_ENVIRONMENTS, METRICS, band, current_parameters, format_value, load_days, metric_label

CHART_DAYS = 90
WIDTH, HEIGHT, PAD = 300, 80, 4
_ids = count(1)


@dataclass
class MetricChart:
    metric: str
    title: str
    environment: str
    svg: SafeString
    points: list[tuple[date, str, bool]]  # (day, value shown, outside the band)
    band_text: str
    outside: int


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _svg(metric: str, title: str, values: list[tuple[int, date, float]], limits, outside_flags) -> SafeString:
    uid = next(_ids)
    ys = [v for _, _, v in values] + ([limits[0], limits[2]] if limits else [])
    low, high = min(ys), max(ys)
    if high == low:
        high = low + 1

    def x(i: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * i / (CHART_DAYS - 1)

    def y(v: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (v - low) / (high - low)

    desc = (
        f"{len(values)} days; band {format_value(metric, limits[0])} to {format_value(metric, limits[2])}; "
        f"{sum(outside_flags)} days outside it."
        if limits
        else f"{len(values)} days; not enough baseline for a band."
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-labelledby="drift-t{uid} drift-d{uid}">'
        f'<title id="drift-t{uid}">{_esc(title)}</title><desc id="drift-d{uid}">{_esc(desc)}</desc>'
    ]
    if limits:
        top, bottom = y(limits[2]), y(limits[0])
        parts.append(
            f'<rect x="{PAD}" y="{top:.1f}" width="{WIDTH - 2 * PAD}" height="{max(1.0, bottom - top):.1f}" '
            f'fill="#d1fae5" stroke="none"/>'
            f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(limits[1]):.1f}" y2="{y(limits[1]):.1f}" '
            f'stroke="#059669" stroke-dasharray="3 3"/>'
        )
    if values:
        path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, _, v in values)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#2563eb" stroke-width="1.5"/>')
    for (i, day, v), out in zip(values, outside_flags, strict=True):
        if out:
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="#d64545">'
                f"<title>{_esc(f'{day:%d %b}: {format_value(metric, v)}, outside the band')}</title></circle>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every value is escaped above)


def agent_charts(agent, today: date) -> list[MetricChart]:
    """The charts of one agent: its busiest environment's usage metrics and its evaluation scores (two queries
    for the rollups, one for the parameters)."""
    params = current_parameters()
    series = load_days(today - timedelta(days=CHART_DAYS - 1), today, agent_ids=[agent.pk])
    usage_envs = [(env, days) for (pk, env), days in series.items() if env != ALL_ENVIRONMENTS]
    charts = []
    if usage_envs:
        env, days = max(usage_envs, key=lambda item: sum(d.invocations for d in item[1].values()))
        charts += _charts_for(env, days, today, params, [m for m in METRICS])
    everywhere = series.get((agent.pk, ALL_ENVIRONMENTS), {})
    names = sorted({name for d in everywhere.values() for name in d.scores})
    charts += _charts_for(ALL_ENVIRONMENTS, everywhere, today, params, [f"evaluation:{n}" for n in names])
    return charts


def _charts_for(environment, days, today, params, metrics) -> list[MetricChart]:
    charts = []
    per_metric: dict[str, list[tuple[int, date, float]]] = {m: [] for m in metrics}
    for day in sorted(days):
        i = CHART_DAYS - 1 - (today - day).days
        for metric, value in days[day].values().items():
            if metric in per_metric:
                per_metric[metric].append((i, day, value))
    for metric in metrics:
        values = per_metric[metric]
        if not values:
            continue
        baseline = [
            v
            for _, day, v in values
            if params.recent_days <= (today - day).days < params.recent_days + params.baseline_days
        ]
        limits = band(metric, baseline, params)
        flags = [bool(limits) and not (limits[0] <= v <= limits[2]) for _, _, v in values]
        where = "" if environment == ALL_ENVIRONMENTS else f" ({environment})"
        title = f"{metric_label(metric).capitalize()}{where}, last {CHART_DAYS} days"
        charts.append(
            MetricChart(
                metric=metric,
                title=title,
                environment=environment,
                svg=_svg(metric, title, values, limits, flags),
                points=[(day, format_value(metric, v), out) for (_, day, v), out in zip(values, flags, strict=True)],
                band_text=(
                    f"{format_value(metric, limits[0])} – {format_value(metric, limits[2])} "
                    f"(median {format_value(metric, limits[1])})"
                    if limits
                    else "not enough baseline"
                ),
                outside=sum(flags),
            )
        )
    return charts
