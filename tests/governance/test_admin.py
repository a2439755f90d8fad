"""The admin edits policy by publishing a new version; decisions' rows are read-only there."""

from django.urls import reverse

from governance.models import Control, RiskPolicy
from registry.models import AuditEvent


def test_editing_a_control_in_the_admin_publishes_a_new_policy_version(admin, client_for):
    # given
    kill_switch = RiskPolicy.objects.current().controls.get(code="kill-switch")
    url = reverse("admin:governance_control_change", args=[kill_switch.pk])
    form = client_for(admin).get(url).context["adminform"].form
    data = {name: form.initial.get(name, "") for name in form.fields}
    data.update(
        validity_days=90,
        applies_when='[{"tier_at_least": "critical"}]',
        invalidated_by="[]",
    )
    # when
    response = client_for(admin).post(url, data)
    # then
    assert response.status_code == 302, response.content[:500]
    assert RiskPolicy.objects.current().version == 2
    assert RiskPolicy.objects.current().controls.get(code="kill-switch").validity_days == 90
    kill_switch.refresh_from_db()
    assert kill_switch.validity_days == 180
    assert AuditEvent.objects.filter(event_type="policy.published", actor=admin).count() == 1


def test_decisions_cannot_be_changed_in_the_admin(admin, client_for):
    client = client_for(admin)
    assert client.get(reverse("admin:governance_review_add")).status_code == 403
    assert client.get(reverse("admin:governance_release_add")).status_code == 403
    assert Control.objects.count() == 29
