import csv
import io
import json

from openpyxl import load_workbook
from pypdf import PdfReader

from portfolio import sources
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


def test_the_workbook_holds_the_summary_every_chart_and_the_agents(world, leadership, client_for):
    # when
    response = client_for(leadership).get("/portfolio/export/portfolio.xlsx")
    # then
    wb = load_workbook(io.BytesIO(_body(response)), read_only=True)
    assert {"Summary", "Agents", "Maturity", "Lifecycle funnel"} <= set(wb.sheetnames)
    summary = {row[0]: row[1] for row in wb["Summary"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Agents"] == 8
    assert summary["Orphaned agents"] == 1
    agents = list(wb["Agents"].iter_rows(values_only=True))
    assert agents[0][0] == "key"
    assert len(agents) == 9
    funnel = {row[0]: row[1] for row in wb["Lifecycle funnel"].iter_rows(min_row=4, values_only=True)}
    assert funnel["Production"] == 3
    maturity = {row[0]: row for row in wb["Maturity"].iter_rows(min_row=2, values_only=True)}
    assert maturity["Human Resources"][-2:] == (2, "process")


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
