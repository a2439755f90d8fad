"""Exports: streamed CSVs, the portfolio workbook and the agent inventory (a CycloneDX-style BOM).

CSVs and the inventory are generators read from the database in chunks
(``iterator(chunk_size=...)``), so 100,000 rows never sit in memory at once.
The workbook is built with openpyxl's write-only mode from the same report
dataclasses the dashboard shows.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from portfolio import presenters, reports, sources
from portfolio.choices import DIMENSIONS
from registry.models import AgentVersion, AgentVersionTool


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
    return agents.order_by("key").values_list(*fields).iterator(chunk_size=_chunk())


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
    rows = qs.order_by("pk").values_list("agent__key", *fields).iterator(chunk_size=_chunk())
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


def rows_csv(header: list[str], rows) -> Iterator[str]:
    """Any report's rows as a CSV (formulas neutralised)."""
    return _csv(header, rows)


def workbook(dash: reports.Dashboard, agents: QuerySet, *, charges=None) -> io.BytesIO:
    """The portfolio as an Excel workbook: the headline, every chart's table, the chargeback (when given:
    a ``portfolio.chargeback.Chargeback``) and the agent list."""
    wb = Workbook(write_only=True)
    bold = Font(bold=True)

    def header(ws, values):
        cells = []
        for value in values:
            cell = WriteOnlyCell(ws, value=value)
            cell.font = bold
            cells.append(cell)
        ws.append(cells)

    ws = wb.create_sheet("Summary")
    ws.append(["Portfolio", dash.filter.describe()])
    ws.append(["Generated", dash.generated_at.strftime("%Y-%m-%d %H:%M UTC")])
    ws.append([])
    header(ws, ["Figure", "Value", "Note"])
    for fig in dash.headline.figures():
        ws.append([fig.label, fig.value if fig.value is not None else "not tracked", fig.note])

    for chart in presenters.all_charts(dash):
        ws = wb.create_sheet(chart.title[:31].replace("/", "-").replace(":", ""))
        ws.append([chart.title])
        ws.append([chart.summary])
        if chart.rows:
            header(ws, chart.headers)
            for row in chart.rows:
                ws.append([_number(cell.text) for cell in row])
        else:
            ws.append([chart.empty or "No data."])

    ws = wb.create_sheet("Maturity")
    header(ws, ["Unit", "Path", "Assessed on", "Inherited from", *DIMENSIONS, "Overall", "Ceiling"])
    for um in dash.maturity:
        a = um.assessment
        ws.append(
            [
                um.unit.name,
                um.unit.path,
                a.assessed_on if a else None,
                um.inherited_from.name if um.inherited_from else "",
                *[(a.scores()[d] if a else None) for d in DIMENSIONS],
                um.overall,
                ", ".join(um.ceiling),
            ]
        )

    if charges is not None:
        from portfolio.chargeback import CSV_HEADER, csv_rows

        ws = wb.create_sheet("Chargeback")
        ws.append(["Chargeback", charges.month.strftime("%B %Y")])
        header(ws, CSV_HEADER)
        for row in csv_rows(charges):
            ws.append([_cell_value(v) if i != 4 else float(v) for i, v in enumerate(row)])

    ws = wb.create_sheet("Agents")
    header(ws, [h for h, _ in AGENT_COLUMNS])
    for row in agent_rows(agents):
        ws.append([_cell_value(v) for v in row])

    buffer = io.BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    return buffer


def _number(text: str):
    cleaned = text.replace(",", "")
    try:
        return int(cleaned)
    except ValueError:
        return text


def _cell_value(value):
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return _safe(value) if isinstance(value, str) else value


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
    ids = agents.order_by("key").values_list("pk", flat=True).iterator(chunk_size=_chunk())
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
