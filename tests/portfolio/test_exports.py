import csv
import io
import json
import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from portfolio import sources
from registry.choices import DataClassification, Lifecycle, Mode, Pattern, RiskTier, Topology
from registry.models import Agent


def _body(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def test_the_catalog_csv_is_streamed_with_one_row_per_agent(world, leadership, client_for):
    # when
    response = client_for(leadership).get("/portfolio/export/agents.csv")
    # then
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(_body(response).decode("utf-8-sig"))))
    assert [r["key"] for r in rows] == ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"]
    a6 = rows[5]
    assert (a6["business_unit"], a6["owner"], a6["owner_active"], a6["risk_tier"]) == (
        "Finance",
        "gone",
        "False",
        "critical",
    )


def test_the_csv_follows_the_dashboard_filter(world, leadership, client_for):
    response = client_for(leadership).get(
        "/portfolio/export/agents.csv", {"business_unit": "hr", "pattern": "core_process"}
    )
    rows = list(csv.DictReader(io.StringIO(_body(response).decode("utf-8-sig"))))
    assert [r["key"] for r in rows] == ["a3"]


def test_the_csv_neutralises_spreadsheet_formulas(world, leadership, client_for):
    Agent.objects.filter(pk=world.a1.pk).update(name="=HYPERLINK(1)")
    rows = list(
        csv.DictReader(
            io.StringIO(_body(client_for(leadership).get("/portfolio/export/agents.csv")).decode("utf-8-sig"))
        )
    )
    assert rows[0]["name"] == "'=HYPERLINK(1)"


def test_the_findings_csv_says_not_tracked_until_findings_exist(world, leadership, client_for):
    response = client_for(leadership).get("/portfolio/export/findings.csv")
    if sources.finding_model() is None:
        assert response.status_code == 404
    else:
        assert response.status_code == 200


def test_the_requirements_csv_lists_each_agents_required_controls(world, leadership, client_for):
    # when
    response = client_for(leadership).get("/portfolio/export/requirements.csv", {"business_unit": "hr"})
    # then
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(_body(response).decode("utf-8-sig"))))
    assert {r["agent_key"] for r in rows} == {"a1", "a2", "a3", "a4", "a5"}
    owner_rows = [r for r in rows if r["control"] == "owner"]
    assert len(owner_rows) == 5
    assert {r["state"] for r in rows} <= {
        "missing",
        "submitted",
        "accepted",
        "rejected",
        "expired",
        "waived",
        "satisfied",
        "failing",
        "unknown",
    }


def _workbook(client, **params):
    response = client.get("/portfolio/export/portfolio.xlsx", params)
    assert response.status_code == 200
    return load_workbook(io.BytesIO(_body(response)))


def _table(ws) -> list[dict]:
    """A table sheet's rows as dicts by header (the header is row 4, under the title and summary)."""
    rows = list(ws.iter_rows(min_row=4, values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


SHEETS = [
    "Summary",
    "Pattern and risk tier",
    "Lifecycle",
    "Findings over time",
    "Maturity",
    "Pattern readiness",
    "Adoption",
    "Cost per month",
    "Outcomes",
    "Furthest from target",
    "Shared tools",
    "Top risks",
    "Chargeback",
    "Agents",
]


def test_the_workbook_holds_the_summary_every_chart_and_the_agents(world, leadership, client_for):
    # when
    wb = _workbook(client_for(leadership))
    # then
    assert wb.sheetnames == SHEETS
    summary = {row["Figure"]: row for row in _table(wb["Summary"])}
    assert summary["Agents"]["Count"] == 8
    assert summary["Orphaned agents"]["Count"] == 1
    assert summary["Production agents fully compliant"]["Share"] == pytest.approx(0.333)
    agents = _table(wb["Agents"])
    assert [a["Key"] for a in agents] == [f"a{i}" for i in range(1, 9)]
    funnel = {row["Lifecycle state"]: row["Agents"] for row in _table(wb["Lifecycle"])}
    assert funnel["Production"] == 3
    maturity = {row["Unit"]: row for row in _table(wb["Maturity"])}
    assert (maturity["Human Resources"]["Overall"], maturity["Human Resources"]["Ceiling"]) == (2, "Process")
    assert maturity["Recruiting"]["Place in the organisation"] == "Group / Human Resources / Recruiting"
    hr_only = {row["Unit"]: row for row in _table(_workbook(client_for(leadership), business_unit="hr")["Maturity"])}
    assert hr_only["Recruiting"]["Place in the organisation"] == "Group / Human Resources / Recruiting"


def test_the_workbook_stores_numbers_money_percentages_and_dates_with_number_formats(world, leadership, client_for):
    # given a month and a half of usage
    from telemetry.models import DailyUsage

    today = timezone.localdate()
    for day in (today.replace(day=1) - timedelta(days=20), today):
        DailyUsage.objects.create(
            agent=world.a1, day=day, environment="production", invocations=1500, cost=Decimal("1234.5")
        )
    # when
    wb = _workbook(client_for(leadership))
    # then numbers are numbers, with the format a reader expects
    summary = wb["Summary"]
    assert summary["B5"].value == 8
    assert summary["B5"].number_format == "#,##0"
    share = next(row for row in summary.iter_rows(min_row=5) if row[0].value.startswith("Production agents fully"))
    assert share[2].number_format == "0.0%"
    cost = wb["Cost per month"]
    month, amount, calls, _tokens, partial = (c for c in cost[5])
    assert isinstance(month.value, datetime)
    assert month.number_format == "mmm yyyy"
    assert amount.value == pytest.approx(1234.5)
    assert amount.number_format == '"€"#,##0.00'
    assert cost["B4"].value == "Cost (EUR)"
    assert calls.value == 1500
    assert partial.value in ("Yes", "No")
    assert cost.cell(row=cost.max_row, column=5).value == "Yes"  # this month is not over
    adoption = {row["Unit"]: row for row in _table(wb["Adoption"])}
    assert adoption["Human Resources"]["Active share"] == pytest.approx(90 / 350)
    assert wb["Adoption"]["D5"].number_format == "0.0%"
    assert wb["Maturity"]["C5"].number_format == "yyyy-mm-dd"
    assert isinstance(wb["Maturity"]["C5"].value, datetime)
    # and no sheet holds a number written as text
    numeric_text = re.compile(r"^[-+]?[\d,]+(\.\d+)?%?$")
    for ws in wb.worksheets:
        for row in ws.iter_rows(min_row=5, values_only=True):
            texts = [v for v in row if isinstance(v, str) and numeric_text.match(v)]
            assert texts == [], f"{ws.title} stores numbers as text: {texts}"


def test_every_table_sheet_has_a_bold_frozen_filtered_header_and_columns_that_fit(world, leadership, client_for):
    wb = _workbook(client_for(leadership))
    for ws in wb.worksheets:
        header = [c for c in ws[4] if c.value is not None]
        assert header, ws.title
        assert all(c.font.bold for c in header), ws.title
        assert ws.freeze_panes == "A5", ws.title
        last = header[-1].column_letter
        assert ws.auto_filter.ref == f"A4:{last}{max(ws.max_row, 5)}", ws.title
        for cell in header:
            width = ws.column_dimensions[cell.column_letter].width
            texts = [
                len(str(v))
                for (v,) in ws.iter_rows(min_row=4, min_col=cell.column, max_col=cell.column, values_only=True)
                if isinstance(v, str)
            ]
            assert width >= min(max(texts), 60), f"{ws.title}!{cell.column_letter} is too narrow"


def test_the_workbook_speaks_labels_with_readable_sheet_names(world, leadership, client_for):
    # given the owner has a full name
    world.owner.last_name = "Martin"
    world.owner.save()
    # when
    wb = _workbook(client_for(leadership))
    # then every sheet name is whole words within Excel's 31 characters
    assert all(len(name) <= 31 for name in wb.sheetnames)
    # and no cell holds a code where a label belongs
    codes = {
        value
        for choices in (Pattern, Lifecycle, RiskTier, Mode, Topology, DataClassification)
        for value, label in choices.choices
        if value != label
    }
    for ws in wb.worksheets:
        for row in ws.iter_rows(min_row=5, values_only=True):
            assert not codes & set(row), f"{ws.title} shows codes: {codes & set(row)}"
    a1 = next(a for a in _table(wb["Agents"]) if a["Key"] == "a1")
    assert a1["Pattern"] == "Employee AI enablement"
    assert a1["Risk tier"] == "Low"
    assert a1["Lifecycle"] == "Production"
    assert a1["Owner"] == "Olivia Martin"
    assert a1["Personal data"] in ("Yes", "No")
    a5 = next(a for a in _table(wb["Agents"]) if a["Key"] == "a5")
    assert a5["Risk tier"] == "Not assessed"
    risks = _table(wb["Top risks"])
    assert {r["Owner"] for r in risks} >= {"Olivia Martin"}


def test_a_workbook_without_agents_or_findings_still_opens(db, leadership, client_for):
    # given an empty registry: nothing in production, compliance not tracked
    # when
    wb = _workbook(client_for(leadership))
    # then every sheet is there with its header, and figures not tracked say so
    assert wb.sheetnames[0] == "Summary"
    summary = {row["Figure"]: row for row in _table(wb["Summary"])}
    assert summary["Agents"]["Count"] == 0
    assert summary["Production agents fully compliant"]["Share"] is None
    assert _table(wb["Agents"]) == []
    assert wb["Agents"].auto_filter.ref == "A4:Z5"


def test_the_board_pack_is_a_pdf_with_the_figures_and_the_maturity_picture(world, leadership, client_for):
    # when
    response = client_for(leadership).get("/portfolio/export/board-pack.pdf", {"business_unit": "hr"})
    # then
    data = _body(response)
    assert data.startswith(b"%PDF")
    assert response["Content-Disposition"].startswith('attachment; filename="board-pack-hr-')
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert "Agent portfolio: board pack" in text
    assert "Human Resources" in text
    assert "Top risks" in text
    assert "A3" in text
    assert "Maturity traps" in text


def test_the_inventory_is_a_cyclonedx_bill_of_materials(world, leadership, client_for):
    response = client_for(leadership).get("/portfolio/export/agent-inventory.cdx.json")
    bom = json.loads(_body(response))
    assert bom["bomFormat"] == "CycloneDX"
    assert bom["specVersion"] == "1.6"
    apps = [c for c in bom["components"] if c["type"] == "application"]
    assert [c["bom-ref"] for c in apps] == [f"agent:a{i}" for i in range(1, 9)]
    assert [s["bom-ref"] for s in bom["services"]] == ["tool:crm.read", "tool:ledger.post"]
    a1 = next(d for d in bom["dependencies"] if d["ref"] == "agent:a1")
    assert "tool:crm.read" in a1["dependsOn"]
    assert any(ref.startswith("model:openai/gpt-5") for ref in a1["dependsOn"])
