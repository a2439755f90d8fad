"""The EU AI Act timeline as data: defaults, what applies today and what is coming (frozen time), per
agent and for the portfolio, and the audited edits."""

from datetime import date

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from governance import eu_ai_act, services
from governance.models import RiskPolicy
from registry.models import AuditEvent


def codes(items):
    return [o.code for o in items]


@pytest.mark.django_db
def test_the_default_dates_follow_the_2026_amendment():
    dates = {o.code: o.applies_from for o in eu_ai_act.obligations(RiskPolicy.objects.current())}
    assert dates["transparency"] == date(2026, 8, 2)
    assert dates["high_risk_annex_iii"] == date(2027, 12, 2)
    assert dates["high_risk_annex_i"] == date(2028, 8, 2)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("today", "applies", "coming"),
    [
        (date(2026, 8, 1), [], ["transparency", "high_risk_annex_iii"]),
        (date(2026, 8, 2), ["transparency"], ["high_risk_annex_iii"]),
        (date(2027, 12, 2), ["transparency", "high_risk_annex_iii"], []),
    ],
)
def test_what_applies_to_a_high_risk_agent_moves_with_the_day(today, applies, coming):
    reaching = eu_ai_act.obligations_for(RiskPolicy.objects.current(), "high_risk", today)
    assert codes(reaching["apply"]) == applies
    assert codes(reaching["coming"]) == coming


@pytest.mark.django_db
def test_the_board_sees_obligations_per_agent_and_for_the_portfolio(agent, assess, board, client_for, make_agent):
    assess(agent, eu_ai_act_category="high_risk", eu_ai_act_reason="Annex III 4(a)")
    minimal = make_agent("hr.faq", name="FAQ bot")
    assess(minimal)
    with time_machine.travel("2026-12-07T10:00:00Z", tick=False):
        page = client_for(board).get(reverse("governance:obligations")).content.decode()
        agent_page = client_for(board).get(reverse("governance:agent", args=[agent.key])).content.decode()
        api = client_for(board).get(reverse("api:eu-ai-act-obligations")).json()
    row = next(r for r in api if r["code"] == "high_risk_annex_iii")
    assert row == {
        "code": "high_risk_annex_iii",
        "title": row["title"],
        "applies_from": "2027-12-02",
        "applies_today": False,
        "agents": [agent.key],
    }
    assert next(r for r in api if r["code"] == "transparency")["applies_today"] is True
    assert "Leave assistant" in page
    assert "FAQ bot" not in page  # a minimal-risk agent is reached by none
    assert "Coming" in agent_page
    assert "2 Dec 2027" in agent_page


@pytest.mark.django_db
def test_moving_a_date_is_audited_and_changes_what_applies(admin, board, api_for):
    policy = RiskPolicy.objects.current()
    # when an administrator moves Annex III to 2 Aug 2026
    new = services.set_obligation_dates(
        policy, actor=admin, dates={"high_risk_annex_iii": date(2026, 8, 2)}, notes="Hypothetical: no deferral"
    )
    # then it is a new version, audited with the new timeline, and the obligation applies earlier
    assert new.version == policy.version + 1
    event = AuditEvent.objects.filter(event_type="policy.published").latest("seq")
    assert event.actor_id == admin.pk
    changed = {e["code"]: e["applies_from"] for e in event.after["changes"]["eu_ai_act_timeline"]}
    assert changed["high_risk_annex_iii"] == "2026-08-02"
    reaching = eu_ai_act.obligations_for(RiskPolicy.objects.current(), "high_risk", date(2026, 12, 7))
    assert "high_risk_annex_iii" in codes(reaching["apply"])
    # the board may not; bad input is refused on the field
    with pytest.raises(PermissionDenied):
        services.set_obligation_dates(new, actor=board, dates={"transparency": date(2026, 9, 1)}, notes="x")
    with pytest.raises(ValidationError):
        services.set_obligation_dates(new, actor=admin, dates={"nonsense": date(2026, 9, 1)}, notes="x")
    bad = api_for(admin).post(
        reverse("api:eu-ai-act-obligations"), {"dates": {"transparency": "soon"}, "notes": "x"}, format="json"
    )
    assert bad.status_code == 400
    assert "dates" in bad.json()


@pytest.mark.django_db
def test_a_broken_timeline_is_refused_when_published(admin):
    policy = RiskPolicy.objects.current()
    broken = [dict(e) for e in policy.eu_ai_act_timeline]
    broken[0]["applies_from"] = "2 Dec"
    with pytest.raises(ValidationError) as exc:
        services.publish_policy(policy, actor=admin, notes="x", changes={"eu_ai_act_timeline": broken})
    assert "eu_ai_act_timeline" in exc.value.message_dict
    broken[0]["applies_from"] = "2026-12-02"
    broken[0]["categories"] = ["scary"]
    with pytest.raises(ValidationError):
        services.publish_policy(policy, actor=admin, notes="x", changes={"eu_ai_act_timeline": broken})
    assert RiskPolicy.objects.current().pk == policy.pk
