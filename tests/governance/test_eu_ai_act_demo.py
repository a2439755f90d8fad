"""The demo shows the EU AI Act in operation: a serious incident with its clock running and an initial
report sent, a FRIA submitted, and a technical file to download; a second run adds nothing."""

from io import StringIO

from django.core.management import call_command
from django.urls import reverse

from governance import demo
from governance.choices import ReportClockStage
from governance.models import AuthorityReport, FundamentalRightsAssessment, Incident


def test_the_demo_has_a_serious_incident_a_fria_and_a_technical_file(db, client):
    call_command("load_demo", stdout=StringIO())
    reported = Incident.objects.exclude(serious_category="").filter(authority_reports__kind="initial").get()
    client.force_login(reported.agent.owner)
    page = client.get(reverse("governance:incident-detail", args=[reported.pk])).content.decode()
    assert ReportClockStage.REPORTED.label in page
    assert demo.DEMO_AUTHORITY in page
    fria = FundamentalRightsAssessment.objects.get()
    assert fria.evidence.status == "submitted"
    response = client.get(reverse("governance:technical-file", args=[fria.agent.key, "pdf"]))
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    # a second run adds nothing
    before = (Incident.objects.count(), AuthorityReport.objects.count(), FundamentalRightsAssessment.objects.count())
    demo.eu_ai_act_in_operation(StringIO())
    after = (Incident.objects.count(), AuthorityReport.objects.count(), FundamentalRightsAssessment.objects.count())
    assert before == after
