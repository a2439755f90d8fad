"""Bulk registration from CSV or Excel: the template, the check naming every error by row and column,
and the import that registers all rows or none."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from registry import audit, bulk, services
from registry.models import Agent, AuditEvent


def row(unit, owner, key, **overrides) -> dict:
    data = {
        "key": key,
        "name": key.split(".")[-1].replace("-", " ").title(),
        "owner": owner.username,
        "business_unit": unit.slug,
        "objective": "Helps people.",
        "pattern": "employee_enablement",
        "autonomy_level": "2",
        "data_classification": "internal",
        "runs_in_staging": "yes",
    }
    data.update(overrides)
    return data


def as_csv(rows) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=bulk.COLUMNS)
    writer.writeheader()
    for r in rows:
        writer.writerow(r)
    return out.getvalue().encode()


def as_xlsx(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(list(bulk.COLUMNS))
    for r in rows:
        sheet.append([r.get(c, "") for c in bulk.COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_templates_download_with_every_column(client_for, owner):
    csv_template = client_for(owner).get("/agents/import/template.csv")
    xlsx_template = client_for(owner).get("/agents/import/template.xlsx")
    assert csv_template.content.decode().splitlines()[0] == ",".join(bulk.COLUMNS)
    sheet = load_workbook(io.BytesIO(xlsx_template.content)).active
    assert [c.value for c in sheet[1]] == list(bulk.COLUMNS)


def test_the_check_names_every_error_by_row_and_column_and_writes_nothing(
    client_for, owner, unit, service_account, agent
):
    rows = [
        row(unit, owner, "hr.one"),
        row(unit, owner, "hr.two", pattern="astrology", autonomy_level="9"),
        row(unit, service_account, "hr.three"),
        row(unit, owner, agent.key),
        row(unit, owner, "hr.one", runs_in_staging="perhaps"),
        row(unit, owner, "Bad Key", objective=""),
    ]
    upload = SimpleUploadedFile("agents.csv", as_csv(rows), "text/csv")
    response = client_for(owner).post("/agents/import/", {"file": upload, "check": "1"})
    found = {(e["row"], e["column"]) for e in response.context["checked"].errors}
    assert found == {
        (3, "pattern"),
        (3, "autonomy_level"),
        (4, "owner"),
        (5, "key"),
        (6, "key"),
        (6, "runs_in_staging"),
        (7, "key"),
        (7, "objective"),
    }
    page = response.content.decode()
    assert "8 problems to fix; nothing was registered" in page
    assert Agent.objects.count() == 1


def test_import_refuses_the_whole_file_when_one_row_is_wrong(client_for, owner, unit):
    rows = [row(unit, owner, f"hr.agent-{i}") for i in range(20)] + [row(unit, owner, "hr.bad", pattern="x")]
    upload = SimpleUploadedFile("agents.csv", as_csv(rows), "text/csv")
    response = client_for(owner).post("/agents/import/", {"file": upload, "import": "1"})
    assert response.status_code == 200
    assert not Agent.objects.exists()


def test_a_clean_excel_file_imports_every_row_with_owner_rights_and_audit(client_for, owner, employee, unit):
    # given
    rows = [row(unit, employee if i % 2 else owner, f"hr.agent-{i}") for i in range(30)]
    upload = SimpleUploadedFile("agents.xlsx", as_xlsx(rows), "application/octet-stream")
    # when
    response = client_for(owner).post("/agents/import/", {"file": upload, "import": "1"})
    # then: every agent exists, owned by its row's owner, who may edit it
    assert response.status_code == 302
    agents = Agent.objects.filter(key__startswith="hr.agent-")
    assert agents.count() == 30
    first, second = agents.get(key="hr.agent-0"), agents.get(key="hr.agent-1")
    assert (first.owner, second.owner) == (owner, employee)
    assert (first.mode, first.runs_in_staging, first.lifecycle) == ("assist", True, "proposed")
    assert services.can_manage_agent(employee, second)
    assert not services.can_change_agent(employee, first)
    # and each has its audit entry, as the importer, in an unbroken chain
    assert AuditEvent.objects.filter(event_type="agent.created", actor=owner, agent__in=agents).count() == 30
    assert audit.verify_chain().ok


def test_an_import_resolves_the_shadow_finding_of_an_identity_it_registers(owner, unit, source):
    from django.utils import timezone

    from governance.checks import run_check
    from governance.choices import FindingKind
    from governance.models import Finding
    from telemetry.identity import identify
    from telemetry.ingest import Event, store_events

    store_events(
        source.pk,
        [
            Event(
                identity=identify("hr.agent-1", None, None),
                environment="staging",
                kind="invocation",
                occurred_at=timezone.now(),
            )
        ],
    )
    run_check(FindingKind.SHADOW_AGENT)
    services.import_agents("a.csv", as_csv([row(unit, owner, "hr.agent-1")]), actor=owner)
    assert Finding.objects.get(kind=FindingKind.SHADOW_AGENT, identity="hr.agent-1").resolved_at is not None


def test_a_file_without_the_required_columns_is_refused_on_the_file_field(client_for, owner):
    upload = SimpleUploadedFile("agents.csv", b"name,owner\nX,olivia\n", "text/csv")
    response = client_for(owner).post("/agents/import/", {"file": upload, "check": "1"})
    assert "lacks the column" in str(response.context["form"].errors["file"])


@pytest.mark.parametrize("name", ["agents.txt", "agents.pdf"])
def test_other_file_types_are_refused(client_for, owner, name):
    upload = SimpleUploadedFile(name, b"x", "text/plain")
    response = client_for(owner).post("/agents/import/", {"file": upload, "check": "1"})
    assert "file" in response.context["form"].errors


def test_the_api_checks_then_imports_a_file(api_for, owner, unit):
    client = api_for(owner)
    good = as_csv([row(unit, owner, f"hr.api-{i}") for i in range(5)])
    bad = as_csv([row(unit, owner, "hr.api-ok"), row(unit, owner, "hr.api-bad", data_classification="secret")])
    checked = client.post(
        "/api/v1/agents/import/",
        {"file": SimpleUploadedFile("a.csv", bad, "text/csv"), "dry_run": True},
        format="multipart",
    )
    assert checked.status_code == 400
    assert checked.json()["errors"] == [
        {"row": 3, "column": "data_classification", "message": "Value 'secret' is not a valid choice."}
    ]
    imported = client.post(
        "/api/v1/agents/import/", {"file": SimpleUploadedFile("a.csv", good, "text/csv")}, format="multipart"
    )
    assert imported.status_code == 200, imported.json()
    assert imported.json() == {"dry_run": False, "applied": True, "rows": 5, "errors": []}
    assert Agent.objects.filter(key__startswith="hr.api-").count() == 5


def test_an_import_moves_the_decision_version_so_gateways_know_the_new_agents_at_once(owner, unit):
    from runtime import versioning

    # given
    before = versioning.current_version()
    # when
    services.import_agents(
        "a.csv", as_csv([row(unit, owner, "hr.agent-1"), row(unit, owner, "hr.agent-2")]), actor=owner
    )
    # then: bulk inserts fire no post_save, so the import itself bumps the version the workers check
    assert versioning.current_version()[0] > before[0]
