"""Permission behaviour beyond the generic matrix (tests/portfolio/permission_routes.py): what each role gets back."""

import pytest

from portfolio.models import MaturityAssessment

LEVELS = {"strategy": 2, "process": 2, "governance": 3, "technology": 2, "adoption": 2}


@pytest.mark.parametrize("who", ["board", "admin", "leadership", "owner", "service_account"])
def test_api_records_an_assessment_only_for_board_and_admin(who, persona, api_for, unit):
    payload = {"business_unit": "hr", "assessed_on": "2026-01-01", **LEVELS}
    payload.update({f"{d}_rationale": "seen in the quarterly review" for d in LEVELS})
    response = api_for(persona(who)).post("/api/v1/maturity-assessments/", payload, format="json")
    if who in ("board", "admin"):
        assert response.status_code == 201, response.content
        assert response.json()["overall"] == 2
        assert response.json()["ceiling"] == [
            "strategy",
            "process",
            "technology",
            "adoption",
        ]
    else:
        assert response.status_code == 403
        assert not MaturityAssessment.objects.exists()


@pytest.mark.parametrize(("who", "status"), [("admin", 200), ("board", 403), ("leadership", 403)])
def test_api_changes_the_policy_only_for_admins(who, status, persona, api_for, db):
    response = api_for(persona(who)).patch("/api/v1/pattern-minimums/core_process/", {"process": 3}, format="json")
    assert response.status_code == status


def test_api_figures_equal_the_page_figures(world, leadership, client_for, api_for):
    page = client_for(leadership).get("/portfolio/", {"business_unit": "hr"}).context["dash"].headline
    api = api_for(leadership).get("/api/v1/portfolio/summary/", {"business_unit": "hr"}).json()
    assert api["total_agents"]["value"] == page.total_agents.value == 5
    assert [f["value"] for f in api["by_lifecycle"]] == [f.value for f in page.by_lifecycle]


def test_api_dashboard_returns_every_section(world, leadership, api_for):
    data = api_for(leadership).get("/api/v1/portfolio/dashboard/").json()
    assert set(data) >= {"headline", "pattern_by_tier", "funnel", "trend", "maturity", "adoption", "outcomes", "tools"}
    hr = next(u for u in data["maturity"] if u["unit"]["slug"] == "hr")
    assert hr["overall"] == 2
    assert hr["ceiling"] == ["process"]
    core = next(r for r in hr["readiness"] if r["pattern"] == "core_process")
    assert core == {
        "pattern": "core_process",
        "ready": False,
        "agents": 1,
        "gap": 2,
        "trapped": True,
        "shortfalls": [{"dimension": "process", "has": 2, "needs": 4, "gap": 2}],
        "url": "/agents/?business_unit=hr&pattern=core_process",
    }


@pytest.mark.parametrize("path", ["summary", "dashboard", "maturity"])
def test_api_figures_refuse_a_bad_filter_with_field_level_messages(path, world, leadership, api_for):
    response = api_for(leadership).get(f"/api/v1/portfolio/{path}/", {"business_unit": "nope", "period": "99y"})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"business_unit", "period"}
    assert "valid choice" in body["business_unit"][0]
