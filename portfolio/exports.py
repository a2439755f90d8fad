"""Exports: streamed CSVs, the portfolio workbook and the agent inventory (a CycloneDX-style BOM).

CSVs and the inventory are generators read from the database in chunks
(``registry.chunked.in_chunks``: a server-side cursor, or keyset chunks behind a
transaction pooler), so 100,000 rows never sit in memory at once.
The workbook is built with openpyxl's write-only mode from the same report
dataclasses the dashboard shows.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import chain, islice

from django.conf import settings
from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from portfolio import charts, presenters, reports, sources
from portfolio.choices import DIMENSIONS
from registry.choices import DataClassification, Lifecycle, Mode, Pattern, RiskTier, Topology
from registry.chunked import in_chunks
from registry.models import AgentVersion, AgentVersionTool, BusinessUnit


def _chunk() -> int:
    return getattr(settings, "PORTFOLIO_EXPORT_CHUNK_SIZE", 2000)


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a generator."""

    def write(self, value):
        return value


def _safe(value):
    """Neutralise spreadsheet formulas in user-written text (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


AGENT_COLUMNS = (
    ("key", "key"),
    ("name", "name"),
    ("business_unit", "business_unit__name"),
    ("business_unit_path", "business_unit__path"),
    ("owner", "owner__username"),
    ("owner_active", "owner__is_active"),
    ("pattern", "pattern"),
    ("risk_tier", "risk_tier"),
    ("lifecycle", "lifecycle"),
    ("autonomy_level", "autonomy_level"),
    ("mode", "mode"),
    ("topology", "topology"),
    ("runs_in_production", "runs_in_production"),
    ("external_facing", "external_facing"),
    ("data_classification", "data_classification"),
    ("handles_personal_data", "handles_personal_data"),
    ("handles_regulated_data", "handles_regulated_data"),
    ("production_since", "production_since"),
    ("business_outcome", "business_outcome"),
    ("metric_name", "metric_name"),
    ("metric_unit", "metric_unit"),
    ("metric_baseline", "metric_baseline"),
    ("metric_target", "metric_target"),
    ("metric_current", "metric_current"),
    ("eligible_users", "eligible_users"),
    ("active_users", "active_users"),
    ("updated_at", "updated_at"),
)


def agent_rows(agents: QuerySet) -> Iterator[tuple]:
    """The catalog's rows in key order, fetched in chunks."""
    fields = [f for _, f in AGENT_COLUMNS]
    return in_chunks(agents, by="key", fields=fields, size=_chunk())


def _csv(header: list[str], rows) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(header)  # BOM: spreadsheet programs then read UTF-8 correctly
    for row in rows:
        yield writer.writerow([_safe(v) for v in row])


def agents_csv(agents: QuerySet) -> Iterator[str]:
    return _csv([h for h, _ in AGENT_COLUMNS], agent_rows(agents))


def _generic_csv(qs: QuerySet) -> Iterator[str]:
    """Every concrete column of a lower layer's model plus the agent key, without knowing its fields up front."""
    fields = [f.attname for f in qs.model._meta.concrete_fields]
    header = ["agent_key", *fields]
    rows = in_chunks(qs, by="pk", fields=["agent__key", *fields], size=_chunk())
    return _csv(header, rows)


def findings_csv(agents: QuerySet) -> Iterator[str] | None:
    Finding = sources.finding_model()
    if Finding is None:
        return None
    return _generic_csv(Finding.objects.filter(agent__in=agents.values("pk")))


REQUIREMENT_COLUMNS = [
    "agent_key",
    "agent_name",
    "business_unit",
    "risk_tier",
    "lifecycle",
    "control",
    "control_name",
    "state",
    "why_required",
    "next_step",
]


def requirements_csv(agents: QuerySet, now: datetime | None = None) -> Iterator[str] | None:
    """One row per (agent, required control) with its state now, from governance's checklist."""
    from django.utils import timezone

    rows = sources.requirement_rows(agents, now or timezone.now())
    if rows is None:
        return None
    return _csv(
        REQUIREMENT_COLUMNS,
        (
            (
                agent.key,
                agent.name,
                agent.business_unit.name,
                agent.risk_tier,
                agent.lifecycle,
                status.code,
                status.control.name,
                status.state,
                "; ".join(status.reasons),
                status.next_step,
            )
            for agent, status in rows
        ),
    )


# --- Workbook -------------------------------------------------------------------------

# Number formats by kind of value: what Excel and LibreOffice show, while the cell keeps the number.
FORMATS = {
    "int": "#,##0",
    "decimal": "#,##0.00",
    "percent": "0.0%",
    "date": "yyyy-mm-dd",
    "month": "mmm yyyy",
    "datetime": "yyyy-mm-dd hh:mm",
}
HEADER_FILL = PatternFill("solid", start_color="E8ECF2", end_color="E8ECF2")
TITLE_ROWS = 3  # the sheet's title, its one-sentence summary, a blank line; the table's header follows
MAX_WIDTH = 60
SAMPLE_ROWS = 500  # rows of the agent list read ahead to size its columns


def rows_csv(header: list[str], rows) -> Iterator[str]:
    """Any report's rows as a CSV (formulas neutralised)."""
    return _csv(header, rows)


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = "text"  # text, int, decimal, money, percent, date, month, datetime


def _money_format() -> str:
    code = presenters.currency()
    symbol = charts.CURRENCY_SYMBOLS.get(code)
    return f'"{symbol}"#,##0.00' if symbol else f'#,##0.00" {code}"'


def _shown_width(value, kind: str) -> int:
    """Roughly how many characters a cell shows, to size its column."""
    if value is None:
        return 0
    if kind in ("int", "decimal", "money"):
        return len(f"{value:,.2f}") + (2 if kind == "money" else 0)
    if kind == "percent":
        return 7
    if kind in ("date", "month"):
        return 10
    if kind == "datetime":
        return 16
    return max((len(line) for line in str(value).split("\n")), default=0)


def _yes_no(value) -> str | None:
    return None if value is None else ("Yes" if value else "No")


class _SheetWriter:
    """One table per sheet: a title and summary above a bold, filtered, frozen header row; typed cells
    with number formats; columns as wide as their content (up to a cap)."""

    def __init__(self, wb: Workbook):
        self.wb = wb
        self.bold = Font(bold=True)
        self.money = _money_format()

    def table(self, name: str, title: str, summary: str, columns: list[Column], rows, *, sample=None) -> None:
        """Write ``rows`` (any iterable) under ``columns``; widths come from ``sample`` (the rows if a list)."""
        if len(name) > 31:
            raise ValueError(f"Sheet name {name!r} is longer than Excel's 31 characters.")
        ws = self.wb.create_sheet(name)
        sample = rows if sample is None else sample
        for i, col in enumerate(columns):
            widest = max([len(col.header)] + [_shown_width(r[i], col.kind) for r in sample])
            ws.column_dimensions[get_column_letter(i + 1)].width = min(widest + 3, MAX_WIDTH)
        header_row = TITLE_ROWS + 1
        ws.freeze_panes = f"A{header_row + 1}"
        title_cell = WriteOnlyCell(ws, value=title)
        title_cell.font = Font(bold=True, size=13)
        ws.append([title_cell])
        ws.append([summary])
        ws.append([])
        cells = []
        for col in columns:
            cell = WriteOnlyCell(ws, value=col.header)
            cell.font = self.bold
            cell.fill = HEADER_FILL
            cells.append(cell)
        ws.append(cells)
        count = 0
        for row in rows:
            ws.append([self._cell(ws, value, col.kind) for value, col in zip(row, columns, strict=True)])
            count += 1
        last = get_column_letter(len(columns))
        ws.auto_filter.ref = f"A{header_row}:{last}{header_row + max(count, 1)}"

    def _cell(self, ws, value, kind: str):
        if value is None or kind == "text":
            return _safe_text(value)
        cell = WriteOnlyCell(ws, value=value)
        if kind == "money":
            cell.value = float(value)
            cell.number_format = self.money
        else:
            if isinstance(value, Decimal):
                cell.value = float(value)
            cell.number_format = FORMATS[kind]
        return cell


def _safe_text(value):
    if value is None:
        return None
    return _safe(str(value))


def _owner(first: str, last: str, username: str) -> str:
    return f"{first} {last}".strip() or username


AGENT_SHEET = (
    (Column("Key"), "key", None),
    (Column("Name"), "name", None),
    (Column("Business unit"), "business_unit__name", None),
    (Column("Owner"), None, None),  # the owner's full name, from the three fields below
    (Column("Owner's account active"), "owner__is_active", _yes_no),
    (Column("Pattern"), "pattern", lambda v: Pattern(v).label),
    (Column("Risk tier"), "risk_tier", lambda v: RiskTier(v).label if v else "Not assessed"),
    (Column("Lifecycle"), "lifecycle", lambda v: Lifecycle(v).label),
    (Column("Autonomy level", "int"), "autonomy_level", None),
    (Column("Mode"), "mode", lambda v: Mode(v).label),
    (Column("Topology"), "topology", lambda v: Topology(v).label),
    (Column("Runs in production"), "runs_in_production", _yes_no),
    (Column("External facing"), "external_facing", _yes_no),
    (Column("Data classification"), "data_classification", lambda v: DataClassification(v).label),
    (Column("Personal data"), "handles_personal_data", _yes_no),
    (Column("Regulated data"), "handles_regulated_data", _yes_no),
    (Column("In production since", "datetime"), "production_since", None),
    (Column("Business outcome"), "business_outcome", None),
    (Column("Success metric"), "metric_name", None),
    (Column("Metric unit"), "metric_unit", None),
    (Column("Baseline", "decimal"), "metric_baseline", None),
    (Column("Target", "decimal"), "metric_target", None),
    (Column("Current", "decimal"), "metric_current", None),
    (Column("Eligible users", "int"), "eligible_users", None),
    (Column("Active users", "int"), "active_users", None),
    (Column("Updated", "datetime"), "updated_at", None),
)
OWNER_FIELDS = ("owner__first_name", "owner__last_name", "owner__username")


def _agent_sheet_rows(agents: QuerySet) -> Iterator[list]:
    fields = [f for _, f, _ in AGENT_SHEET if f] + list(OWNER_FIELDS)
    for values in in_chunks(agents, by="key", fields=fields, size=_chunk()):
        *own, first, last, username = values
        it = iter(own)
        row = []
        for _col, field_name, label in AGENT_SHEET:
            if field_name is None:
                row.append(_owner(first, last, username))
                continue
            value = next(it)
            if isinstance(value, datetime):
                value = value.replace(tzinfo=None)
            row.append(label(value) if label and value is not None else value)
        yield row


def _fraction(part, whole) -> float | None:
    return part / whole if whole and part is not None else None


def workbook(
    dash: reports.Dashboard, agents: QuerySet, risks: list[reports.RiskItem] | None = None, *, charges=None
) -> io.BytesIO:
    """The portfolio as an Excel workbook: the headline, every chart's table, top risks, the chargeback (when
    given: a ``portfolio.chargeback.Chargeback``) and the agent list.

    Every value is stored as what it is (numbers, money, fractions shown as percentages, dates) with a
    number format; codes are replaced by their labels; every table sheet has a bold, frozen header row
    with an autofilter, and columns sized to their content.
    """
    wb = Workbook(write_only=True)
    out = _SheetWriter(wb)
    views = {v.key: v for v in presenters.all_charts(dash)}
    h = dash.headline
    today = dash.generated_at.date()

    figures = []
    for fig in h.figures():
        if fig.key == "compliant_percent":
            figures.append([fig.label.replace(" (%)", ""), None, _fraction(fig.value, 100), fig.note])
        else:
            figures.append([fig.label, fig.value, None, fig.note or ("not tracked" if fig.value is None else "")])
    out.table(
        "Summary",
        "Agent portfolio",
        f"{dash.filter.describe()} · generated {dash.generated_at:%Y-%m-%d %H:%M} UTC",
        [Column("Figure"), Column("Count", "int"), Column("Share", "percent"), Column("Note")],
        figures,
    )

    tiers = [(c.key, c.label) for c in dash.pattern_by_tier[0].cells] if dash.pattern_by_tier else []
    out.table(
        "Pattern and risk tier",
        "Agents by pattern and risk tier",
        views["pattern-tier"].summary,
        [Column("Pattern"), *[Column(label, "int") for _, label in tiers], Column("Total", "int")],
        [[r.label, *[c.value for c in r.cells], r.total] for r in dash.pattern_by_tier],
    )
    out.table(
        "Lifecycle",
        "Lifecycle funnel",
        views["funnel"].summary,
        [Column("Lifecycle state"), Column("Agents", "int")],
        [[c.label, c.value] for c in dash.funnel],
    )
    if dash.trend is not None:
        out.table(
            "Findings over time",
            views["trend"].title,
            views["trend"].summary,
            [
                Column("Week ending", "date"),
                Column("Agents", "int"),
                Column("Open findings", "int"),
                Column("High or critical", "int"),
                Column("Open shadow agents", "int"),
                Column("Reviews overdue", "int"),
                Column("Maturity traps", "int"),
            ],
            [
                [
                    p.day,
                    p.agents,
                    p.open_findings,
                    p.open_findings_high,
                    p.open_shadow_agents,
                    p.reviews_overdue,
                    p.maturity_traps,
                ]
                for p in reports.weekly(dash.trend)
            ],
        )

    maturity_rows = []
    # A unit's place as the names of the units above it (the path holds their slugs).
    names = dict(BusinessUnit.objects.values_list("slug", "name"))
    for um in dash.maturity:
        a = um.assessment
        maturity_rows.append(
            [
                um.unit.name,
                " / ".join(names.get(slug, slug) for slug in um.unit.path.strip("/").split("/")),
                a.assessed_on if a else None,
                um.inherited_from.name if um.inherited_from else "",
                *[(a.scores()[d] if a else None) for d in DIMENSIONS],
                um.overall,
                ", ".join(reports.dimension_label(d) for d in um.ceiling),
            ]
        )
    out.table(
        "Maturity",
        "Maturity per unit",
        views["heatmap"].summary,
        [
            Column("Unit"),
            Column("Place in the organisation"),
            Column("Assessed on", "date"),
            Column("Inherited from"),
            *[Column(reports.dimension_label(d), "int") for d in DIMENSIONS],
            Column("Overall", "int"),
            Column("Ceiling"),
        ],
        maturity_rows,
    )
    readiness_rows = []
    for um in dash.maturity:
        for r in um.readiness:
            readiness_rows.append(
                [
                    um.unit.name,
                    Pattern(r.pattern).label,
                    "Not assessed" if r.ready is None else _yes_no(r.ready),
                    r.agents,
                    r.gap if r.ready is False else None,
                    ", ".join(f"{reports.dimension_label(sf.dimension)} {sf.has} of {sf.needs}" for sf in r.shortfalls),
                    _yes_no(r.trapped),
                ]
            )
    out.table(
        "Pattern readiness",
        "Pattern readiness per unit",
        views["readiness"].summary,
        [
            Column("Unit"),
            Column("Pattern"),
            Column("Ready"),
            Column("Agents", "int"),
            Column("Levels short", "int"),
            Column("Short on (has of needs)"),
            Column("Maturity trap"),
        ],
        readiness_rows,
    )
    out.table(
        "Adoption",
        "Adoption: eligible against active users",
        views["adoption"].summary,
        [
            Column("Unit"),
            Column("Eligible users", "int"),
            Column("Active users", "int"),
            Column("Active share", "percent"),
        ],
        [
            [b.label, b.values["eligible"], b.values["active"], _fraction(b.values["active"], b.values["eligible"])]
            for b in dash.adoption
        ],
    )
    if dash.usage is not None:
        partial = presenters.partial_months(dash.usage, dash.filter, today)
        out.table(
            "Cost per month",
            views["usage"].title + f" ({presenters.currency()})",
            views["usage"].summary,
            [
                Column("Month", "month"),
                Column(f"Cost ({presenters.currency()})", "money"),
                Column("Invocations", "int"),
                Column("Tokens", "int"),
                Column("Partial month"),
            ],
            [[m.month, m.cost, m.invocations, m.tokens, _yes_no(partial[i])] for i, m in enumerate(dash.usage)],
        )
    out.table(
        "Outcomes",
        "Outcome attainment",
        views["outcomes"].summary,
        [Column("Progress towards target"), Column("Agents", "int")],
        [[c.label, c.value] for c in dash.outcomes.buckets],
    )
    out.table(
        "Furthest from target",
        "Running agents furthest from their success metric's target",
        "Progress is the share of the way from baseline to target.",
        [
            Column("Agent"),
            Column("Success metric"),
            Column("Baseline", "decimal"),
            Column("Target", "decimal"),
            Column("Current", "decimal"),
            Column("Progress", "percent"),
        ],
        [[g.name, g.metric, g.baseline, g.target, g.current, g.progress / 100] for g in dash.outcomes.lagging],
    )
    out.table(
        "Shared tools",
        "Tools shared across agents",
        views["tools"].summary or views["tools"].empty,
        [Column("Tool"), Column("Agents allowed", "int")],
        [[c.label, c.value] for c in dash.tools],
    )
    if risks is not None:
        out.table(
            "Top risks",
            "Top risks",
            "The riskiest live agents: highest tier first, then most open findings.",
            [
                Column("Agent"),
                Column("Business unit"),
                Column("Risk tier"),
                Column("Lifecycle"),
                Column("Open findings", "int"),
                Column("Owner"),
            ],
            [
                [
                    r.agent_name,
                    r.business_unit,
                    RiskTier(r.risk_tier).label if r.risk_tier else "Not assessed",
                    Lifecycle(r.lifecycle).label,
                    r.open_findings,
                    r.owner,
                ]
                for r in risks
            ],
        )

    if charges is not None:
        out.table(
            "Chargeback",
            f"Chargeback, {charges.month:%B %Y}",
            "Cost per agent, then per business unit (a unit's figures cover its sub-units), with the tokens "
            "and invocations behind it.",
            [
                Column("Level"),
                Column("Business unit"),
                Column("Agent"),
                Column(f"Cost ({presenters.currency()})", "money"),
                Column("Tokens", "int"),
                Column("Invocations", "int"),
            ],
            [["Agent", r.unit, r.label, r.cost, r.tokens, r.invocations] for r in charges.agents]
            + [["Business unit", r.label, "", r.cost, r.tokens, r.invocations] for r in charges.units],
        )

    rows = _agent_sheet_rows(agents)
    sample = list(islice(rows, SAMPLE_ROWS))
    out.table(
        "Agents",
        "Agents",
        f"Every agent in the selection ({dash.filter.describe()}), by key.",
        [col for col, _, _ in AGENT_SHEET],
        chain(sample, rows),
        sample=sample,
    )

    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    return buffer


# --- Inventory (CycloneDX-style bill of materials) --------------------------------------


def inventory_bom(agents: QuerySet, now: datetime) -> Iterator[str]:
    """The agent inventory as CycloneDX 1.6 JSON: agents as applications, their current models
    as machine-learning-model components, catalog tools as services, and the links between them.

    Streamed in chunks of agents; each agent's current version is its latest.
    """
    head = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": now.isoformat(),
            "component": {"type": "application", "name": "Agent inventory", "bom-ref": "inventory"},
        },
    }
    yield json.dumps(head)[:-1] + ', "components": ['
    models_seen: dict[str, dict] = {}
    tools_seen: dict[str, dict] = {}
    dependencies: list[dict] = []
    first = True
    ids = in_chunks(agents, by="key", fields=["pk"], flat=True, size=_chunk())
    batch: list[int] = []

    def flush(batch_ids):
        rows = (
            agents.filter(pk__in=batch_ids)
            .order_by("key")
            .values(
                "pk",
                "key",
                "name",
                "description",
                "pattern",
                "risk_tier",
                "lifecycle",
                "owner__username",
                "business_unit__name",
            )
        )
        versions = {
            v["agent_id"]: v
            for v in AgentVersion.objects.filter(agent_id__in=batch_ids)
            .annotate(
                _rank=Window(
                    RowNumber(), partition_by=[F("agent_id")], order_by=[F("created_at").desc(), F("id").desc()]
                )
            )
            .filter(_rank=1)
            .values("id", "agent_id", "label", "model_provider", "model_name", "model_version")
        }
        grants: dict[int, list] = {}
        for g in AgentVersionTool.objects.filter(version_id__in=[v["id"] for v in versions.values()]).values(
            "version_id", "access", "tool__key", "tool__name", "tool__system"
        ):
            grants.setdefault(g["version_id"], []).append(g)
        out = []
        for r in rows:
            ref = f"agent:{r['key']}"
            depends = []
            v = versions.get(r["pk"])
            if v:
                model_ref = f"model:{v['model_provider']}/{v['model_name']}@{v['model_version'] or 'unversioned'}"
                models_seen.setdefault(
                    model_ref,
                    {
                        "type": "machine-learning-model",
                        "bom-ref": model_ref,
                        "supplier": {"name": v["model_provider"]},
                        "name": v["model_name"],
                        "version": v["model_version"] or "",
                    },
                )
                depends.append(model_ref)
                for g in grants.get(v["id"], []):
                    tool_ref = f"tool:{g['tool__key']}"
                    tools_seen.setdefault(
                        tool_ref,
                        {"bom-ref": tool_ref, "name": g["tool__name"], "group": g["tool__system"] or None},
                    )
                    depends.append(tool_ref)
            dependencies.append({"ref": ref, "dependsOn": sorted(set(depends))})
            out.append(
                {
                    "type": "application",
                    "bom-ref": ref,
                    "name": r["name"],
                    "version": v["label"] if v else "",
                    "description": r["description"],
                    "properties": [
                        {"name": "agent:key", "value": r["key"]},
                        {"name": "agent:pattern", "value": r["pattern"]},
                        {"name": "agent:risk_tier", "value": r["risk_tier"] or "not assessed"},
                        {"name": "agent:lifecycle", "value": r["lifecycle"]},
                        {"name": "agent:owner", "value": r["owner__username"]},
                        {"name": "agent:business_unit", "value": r["business_unit__name"]},
                    ],
                }
            )
        return out

    for pk in ids:
        batch.append(pk)
        if len(batch) >= _chunk():
            for comp in flush(batch):
                yield ("" if first else ",") + json.dumps(comp)
                first = False
            batch = []
    if batch:
        for comp in flush(batch):
            yield ("" if first else ",") + json.dumps(comp)
            first = False
    for comp in models_seen.values():
        yield ("" if first else ",") + json.dumps(comp)
        first = False
    yield '], "services": ' + json.dumps(list(tools_seen.values()))
    yield ', "dependencies": ' + json.dumps(dependencies) + "}"
