"""Serious incidents (EU AI Act Art. 73): the clocks by category, the warnings and the finding at the
thresholds, the reports to the authority, policy edits of the deadlines, and the regulator report."""

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth

from governance import checks, eu_ai_act, notifications, services
from governance.choices import FindingKind, ReportClockStage, Severity
from governance.models import AuthorityReport, Finding, Incident, ReportClockAlert, RiskPolicy
from registry.models import AuditEvent

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DAYS = {
    "death": 10,
    "health": 15,
    "critical_infrastructure": 2,
    "widespread_infringement": 2,
    "fundamental_rights": 15,
    "property_environment": 15,
}


@pytest.fixture
def serious(agent, owner, version):
    """A serious incident of ``category`` the organisation became aware of at T0 (frozen)."""

    def make(category="death", *, aware_at=T0):
        with time_machine.travel(aware_at, tick=False):
            incident = services.report_incident(
                agent,
                actor=owner,
                title="Wrong dosage advice",
                severity="critical",
                what_happened="The assistant advised a double dose.",
                version=version,
            )
            return services.mark_incident_serious(incident, actor=owner, category=category, aware_at=aware_at)

    return make


def clock_at(incident, when):
    incident.refresh_from_db()
    return eu_ai_act.report_clock(incident, RiskPolicy.objects.current(), when)


@pytest.mark.django_db
@pytest.mark.parametrize(("category", "days"), sorted(DAYS.items()))
def test_the_clock_of_each_category_runs_its_days_from_awareness(serious, category, days):
    # given an incident recorded now but known to be serious since T0
    incident = serious(category)
    deadline = T0 + timedelta(days=days)
    total = deadline - T0

    # then the deadline is awareness + the category's days, and the stage follows the time gone
    assert clock_at(incident, T0).deadline == deadline
    assert clock_at(incident, T0 + total * 0.49).stage == ReportClockStage.RUNNING
    assert clock_at(incident, T0 + total * 0.5).stage == ReportClockStage.HALF
    assert clock_at(incident, T0 + total * 0.89).stage == ReportClockStage.HALF
    assert clock_at(incident, T0 + total * 0.9).stage == ReportClockStage.NEARLY_MISSED
    assert clock_at(incident, deadline - timedelta(seconds=1)).stage == ReportClockStage.NEARLY_MISSED
    assert clock_at(incident, deadline).stage == ReportClockStage.MISSED
    assert clock_at(incident, deadline - timedelta(hours=1)).time_left == timedelta(hours=1)


@pytest.mark.django_db
def test_awareness_is_recorded_apart_from_creation(agent, owner):
    # given an incident entered at T0 + 3 h
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        incident = services.report_incident(
            agent,
            actor=owner,
            title="Outage",
            severity="high",
            what_happened="Grid control loop stopped.",
            detected_at=T0,
        )
        # when it is marked serious with awareness at T0 + 1 h
        incident = services.mark_incident_serious(
            incident, actor=owner, category="critical_infrastructure", aware_at=T0 + timedelta(hours=1)
        )
    # then the clock runs from awareness, not from the entry
    assert incident.reported_at == T0 + timedelta(hours=3)
    assert clock_at(incident, T0 + timedelta(hours=3)).deadline == T0 + timedelta(days=2, hours=1)
    event = AuditEvent.objects.get(event_type="incident.marked_serious")
    assert event.after["report_days"] == 2


@pytest.mark.django_db
def test_marking_refuses_bad_input_field_by_field(serious, agent, owner, employee):
    incident = serious("health")
    with pytest.raises(ValidationError) as exc:
        services.mark_incident_serious(incident, actor=owner, category="annoyance", aware_at=T0)
    assert "category" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.mark_incident_serious(incident, actor=owner, category="health", aware_at=T0 + timedelta(days=999))
    assert "aware_at" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.mark_incident_serious(incident, actor=owner, category="health", aware_at=T0 - timedelta(days=3))
    assert "aware_at" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        services.mark_incident_serious(incident, actor=employee, category="death", aware_at=T0)
    incident.refresh_from_db()
    assert incident.serious_category == "health"


@pytest.mark.django_db
def test_initial_report_stops_the_clock_and_follow_ups_complete_it(serious, owner):
    incident = serious("death")
    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        # a follow-up cannot come first
        with pytest.raises(ValidationError) as exc:
            services.record_authority_report(
                incident, actor=owner, kind="follow_up", sent_at=T0 + timedelta(days=3), authority="MSA"
            )
        assert "kind" in exc.value.message_dict
        services.record_authority_report(
            incident, actor=owner, kind="initial", sent_at=T0 + timedelta(days=2), authority="MSA", reference="R-1"
        )
        # only one initial report
        with pytest.raises(ValidationError):
            services.record_authority_report(
                incident, actor=owner, kind="initial", sent_at=T0 + timedelta(days=3), authority="MSA"
            )
    clock = clock_at(incident, T0 + timedelta(days=30))
    assert clock.stage == ReportClockStage.REPORTED
    assert clock.still_due == ["Follow-up reports completing the initial one, then a final report."]
    with time_machine.travel(T0 + timedelta(days=20), tick=False):
        services.record_authority_report(
            incident, actor=owner, kind="final", sent_at=T0 + timedelta(days=20), authority="MSA", reference="R-1"
        )
    assert clock_at(incident, T0 + timedelta(days=30)).still_due == []
    assert AuditEvent.objects.filter(event_type="incident.authority_reported").count() == 2


@pytest.mark.django_db
def test_a_late_initial_report_says_so(serious, owner):
    incident = serious("critical_infrastructure")
    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        services.record_authority_report(
            incident, actor=owner, kind="initial", sent_at=T0 + timedelta(days=3), authority="MSA"
        )
    assert clock_at(incident, T0 + timedelta(days=3)).stage == ReportClockStage.REPORTED_LATE


@pytest.mark.django_db
def test_finding_and_warnings_at_the_thresholds(serious, owner, board):
    # given a death: 10 days from T0
    incident = serious("death")
    kind = FindingKind.INCIDENT_REPORT_DUE

    def sweep(when):
        checks.run_check(kind, now=when)
        notifications.notify_report_clocks(now=when)
        return Finding.objects.filter(kind=kind, resolved_at__isnull=True).first()

    mail.outbox.clear()
    # before half the time: nothing
    assert sweep(T0 + timedelta(days=4, hours=23)) is None
    assert mail.outbox == []
    # at 50%: a high finding, and the board is told once
    finding = sweep(T0 + timedelta(days=5))
    assert finding.severity == Severity.HIGH
    assert "Wrong dosage advice" in finding.summary
    assert [m.to for m in mail.outbox] == [[board.email]]
    assert "Half the time gone" in mail.outbox[0].subject
    sweep(T0 + timedelta(days=6))
    assert len(mail.outbox) == 1  # the same stage alerts once
    # at 90%: nearly missed, critical
    finding = sweep(T0 + timedelta(days=9))
    assert finding.severity == Severity.CRITICAL
    assert len(mail.outbox) == 2
    assert "Nearly missed" in mail.outbox[1].subject
    # past the deadline: missed, still critical, the board told again
    finding = sweep(T0 + timedelta(days=10, minutes=1))
    assert finding.severity == Severity.CRITICAL
    assert "was due" in finding.summary
    assert len(mail.outbox) == 3
    assert "Deadline missed" in mail.outbox[2].subject
    assert set(ReportClockAlert.objects.values_list("stage", flat=True)) == {"half", "nearly_missed", "missed"}
    # when the initial report is sent, the finding clears
    with time_machine.travel(T0 + timedelta(days=11), tick=False):
        services.record_authority_report(
            incident, actor=owner, kind="initial", sent_at=T0 + timedelta(days=11), authority="MSA"
        )
    assert sweep(T0 + timedelta(days=11)) is None
    assert Finding.objects.get(kind=kind).resolved_at == T0 + timedelta(days=11)


@pytest.mark.django_db
def test_report_days_are_policy_data_edited_and_audited(serious, admin, owner):
    # given the default 10 days for a death
    incident = serious("death")
    policy = RiskPolicy.objects.current()
    # when an administrator publishes 7 days
    days = {**policy.incident_report_days, "death": 7}
    new = services.publish_policy(
        policy, actor=admin, notes="Stricter national rule", changes={"incident_report_days": days}
    )
    # then the clock follows, and the edit is audited with the change
    assert clock_at(incident, T0).deadline == T0 + timedelta(days=7)
    event = AuditEvent.objects.filter(event_type="policy.published").latest("seq")
    assert event.after["changes"] == {"incident_report_days": days}
    assert event.after["version"] == new.version
    # a table missing a category, or a bad number, is refused on the field
    for bad in ({"death": 7}, {**days, "death": 0}, {**days, "death": "ten"}):
        with pytest.raises(ValidationError) as exc:
            services.publish_policy(new, actor=admin, notes="x", changes={"incident_report_days": bad})
        assert "incident_report_days" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        services.publish_policy(new, actor=owner, notes="x", changes={"incident_report_days": days})


@pytest.mark.django_db
def test_the_api_marks_records_and_shows_the_clock(serious, agent, owner, api_for):
    with time_machine.travel(T0, tick=False):
        incident = services.report_incident(
            agent, actor=owner, title="Leak", severity="high", what_happened="Shared a record.", detected_at=T0
        )
    api = api_for(owner)
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        url = reverse("api:incident-mark-serious", args=[incident.pk])
        bad = api.post(url, {"serious_category": "nope", "aware_at": "yesterday"}, format="json")
        assert bad.status_code == 400
        assert set(bad.json()) >= {"serious_category", "aware_at"}
        response = api.post(url, {"serious_category": "fundamental_rights", "aware_at": T0.isoformat()}, format="json")
        assert response.status_code == 200
        body = response.json()
        assert body["report_clock"]["deadline"].startswith("2026-12-16T09:00")
        assert body["report_clock"]["stage"] == "running"
        url = reverse("api:incident-authority-reports", args=[incident.pk])
        response = api.post(
            url,
            {
                "kind": "initial",
                "sent_at": (T0 + timedelta(days=1)).isoformat(),
                "authority": "DPA",
                "reference": "X-9",
            },
            format="json",
        )
        assert response.status_code == 201
        assert response.json()["authority_reports"][0]["reference"] == "X-9"
        assert response.json()["report_clock"]["stage"] == "reported"
        again = api.post(
            url, {"kind": "initial", "sent_at": (T0 + timedelta(days=1)).isoformat(), "authority": "DPA"}, format="json"
        )
        assert again.status_code == 400
        assert "kind" in again.json()
    assert AuthorityReport.objects.count() == 1


@pytest.mark.django_db
def test_the_page_shows_deadline_time_left_reports_and_what_is_due(serious, owner, client_for):
    incident = serious("critical_infrastructure")
    with time_machine.travel(T0 + timedelta(hours=6), tick=False):
        services.record_authority_report(
            incident,
            actor=owner,
            kind="initial",
            sent_at=T0 + timedelta(hours=5),
            authority="Grid regulator",
            reference="GR-77",
        )
        page = client_for(owner).get(reverse("governance:incident-detail", args=[incident.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "3 Dec 2026 09:00" in text  # the deadline, 2 days from awareness
    assert "Grid regulator" in text
    assert "GR-77" in text
    assert "Follow-up reports completing the initial one" in text
    assert "Regulator report (PDF)" in text


def pdf_text_and_positions(content: bytes):
    reader = PdfReader(io.BytesIO(content))
    text, outside = [], []
    for page in reader.pages:
        box = page.mediabox
        left, bottom, right, top = float(box.left), float(box.bottom), float(box.right), float(box.top)

        def visit(chunk, cm, tm, font, size, page_box=(left, bottom, right, top)):
            chunk = chunk.rstrip("\n")
            if not chunk.strip():
                return
            x, y = tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5]
            name = str((font or {}).get("/BaseFont", "/Helvetica")).lstrip("/")
            width = stringWidth(chunk, name, size * (tm[0] or 1))
            if x < page_box[0] or y < page_box[1] or y > page_box[3] or x + width > page_box[2] + 1:
                outside.append(chunk)

        text.append(page.extract_text(visitor_text=visit))
    return "\n".join(text), outside


@pytest.mark.django_db
def test_the_regulator_report_pdf_has_every_section_on_the_page(serious, agent, owner, board, client_for):
    # given a serious incident with a long description and an initial report sent
    incident = serious("death")
    services.update_incident(incident, actor=owner, what_happened="A long account of the events. " * 80)
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        services.record_authority_report(
            incident, actor=owner, kind="initial", sent_at=T0 + timedelta(days=1), authority="MSA", reference="R-5"
        )
        response = client_for(board).get(reverse("governance:incident-regulator-report", args=[incident.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text, outside = pdf_text_and_positions(response.content)
    for section in (
        "Serious incident",
        "Reporting deadline and reports sent",
        "The AI system (agent record)",
        "Version at the time",
        "Human oversight and escalation",
    ):
        assert section in text
    assert "Source:" in text
    assert "Leave assistant" in text
    assert "1.0.0" in text
    assert "R-5" in text
    assert "11 Dec 2026 09:00 UTC" in text  # the deadline
    assert "Gaps:" in text  # e.g. no oversight evidence yet: listed, not hidden
    assert outside == []


@pytest.mark.django_db
def test_the_regulator_report_withholds_evidence_from_readers_without_access(
    serious, agent, owner, employee, client_for
):
    incident = serious("health")
    services.submit_evidence(
        agent,
        "human-oversight",
        actor=owner,
        kind="statement",
        statement="A nurse approves every answer.",
        summary="Nurse approval",
    )
    as_owner, _ = pdf_text_and_positions(
        client_for(owner).get(reverse("governance:incident-regulator-report", args=[incident.pk])).content
    )
    as_employee, _ = pdf_text_and_positions(
        client_for(employee).get(reverse("governance:incident-regulator-report", args=[incident.pk])).content
    )
    assert "Nurse approval" in as_owner
    assert "Nurse approval" not in as_employee
    assert "withheld" in as_employee


@pytest.mark.django_db
def test_a_plain_incident_has_no_regulator_report(agent, owner, client_for):
    incident = services.report_incident(agent, actor=owner, title="Typo", severity="low", what_happened="A typo.")
    assert client_for(owner).get(reverse("governance:incident-regulator-report", args=[incident.pk])).status_code == 404
    assert Incident.objects.get(pk=incident.pk).serious_category == ""


def test_the_page_box_check_catches_text_off_the_page():
    # given a PDF with a line drawn past the right edge
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.drawString(40, 700, "Inside the page")
    pdf.drawString(A4[0] - 60, 650, "This sentence runs past the right edge")
    pdf.save()
    # then only that line is reported
    text, outside = pdf_text_and_positions(buffer.getvalue())
    assert "Inside the page" in text
    assert outside == ["This sentence runs past the right edge"]


@pytest.mark.django_db
def test_the_incident_list_reads_clocks_in_constant_queries(serious, owner, api_for, django_assert_num_queries):
    # given one serious incident with a report
    first = serious("health")
    services.record_authority_report(first, actor=owner, kind="initial", sent_at=T0, authority="MSA")
    api = api_for(owner)
    url = reverse("api:incident-list")
    api.get(url)  # warm the caches of the session and permissions

    def count():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert api.get(url).status_code == 200
        return len(ctx.captured_queries)

    one = count()
    # when four more serious incidents with reports are added
    for _ in range(4):
        incident = serious("death")
        services.record_authority_report(incident, actor=owner, kind="initial", sent_at=T0, authority="MSA")
    # then the list costs the same number of queries
    with django_assert_num_queries(one):
        body = api.get(url).json()
    assert len(body["results"]) == 5
    assert all(row["report_clock"]["stage"] == "reported" for row in body["results"])
