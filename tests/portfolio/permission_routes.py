"""The portfolio's pages and API endpoints in the permission matrix (see tests/permission_matrix.py).

Who may do what here: every signed-in person opens the dashboard (limited to
their own agents unless they hold a leadership role), the maturity pages and
the figures API; the board and platform administrators record maturity
assessments; only platform administrators change the maturity policy; exports
and the board pack are for the board, leadership and administrators. Service
accounts hold no portfolio role: 403 on pages, nothing in scope on lists.
"""

from datetime import date

from portfolio import sources
from portfolio.models import MaturityAssessment
from tests.permission_matrix import Route, statuses

PAGE = statuses(200, service_account=403, anonymous=302)
LEADERS_PAGE = statuses(403, board=200, leadership=200, admin=200, anonymous=302)
# Until governance has findings the findings export answers 404 ("not tracked yet") to those allowed.
_tracked = 200 if sources.finding_model() is not None else 404
FINDINGS_EXPORT = statuses(403, board=_tracked, leadership=_tracked, admin=_tracked, anonymous=302)
API = statuses(200, service_account=403, anonymous=401)
API_LIST = statuses(200, anonymous=401)
API_DETAIL = statuses(200, service_account=404, anonymous=401)
LEVELS = {"strategy": 3, "process": 3, "governance": 4, "technology": 3, "adoption": 3}


def unit_slug(c) -> dict:
    return {"slug": c.unit.slug}


def assessment_form(c, user) -> dict:
    data = {"assessed_on": "2026-01-15", "notes": ""}
    for name, level in LEVELS.items():
        data[name] = str(level)
        data[f"{name}_rationale"] = f"{name} reviewed in the quarterly workshop"
    return data


def assessment_payload(c, user) -> dict:
    return {
        "business_unit": c.unit.slug,
        "assessed_on": "2026-01-15",
        **LEVELS,
        **{f"{name}_rationale": "reviewed in the quarterly workshop" for name in LEVELS},
    }


def make_assessment(c) -> None:
    c.extra["assessment"] = MaturityAssessment.objects.create(
        business_unit=c.unit,
        assessed_on=date(2026, 1, 1),
        **LEVELS,
        **{f"{name}_rationale": "seen" for name in LEVELS},
    )


def assessment_pk(c) -> dict:
    return {"pk": c.extra["assessment"].pk}


def core_process(c) -> dict:
    return {"pattern": "core_process"}


ROUTES = [
    Route("portfolio:dashboard", "GET", PAGE),
    Route("portfolio:dashboard", "GET", PAGE, label="filtered", query={"business_unit": "hr", "period": "4w"}),
    Route("portfolio:agents", "GET", PAGE, query={"tool": "workday.read-leave"}),
    Route("portfolio:maturity", "GET", PAGE),
    Route("portfolio:unit-maturity", "GET", PAGE, kwargs=unit_slug),
    Route("portfolio:assess-unit", "GET", statuses(403, board=200, admin=200, anonymous=302), kwargs=unit_slug),
    Route(
        "portfolio:assess-unit",
        "POST",
        statuses(403, board=302, admin=302, anonymous=302),
        kwargs=unit_slug,
        data=assessment_form,
        audit="maturity_assessment.recorded",
    ),
    Route("portfolio:export-agents", "GET", LEADERS_PAGE),
    Route("portfolio:export-findings", "GET", FINDINGS_EXPORT),
    Route("portfolio:export-requirements", "GET", LEADERS_PAGE),
    Route("portfolio:export-workbook", "GET", LEADERS_PAGE),
    Route("portfolio:export-chargeback", "GET", LEADERS_PAGE),
    Route("portfolio:export-chargeback", "GET", LEADERS_PAGE, label="month", query={"month": "2026-02"}),
    Route("portfolio:export-board-pack", "GET", LEADERS_PAGE),
    Route("portfolio:export-inventory", "GET", LEADERS_PAGE),
    Route("api:portfolio-summary", "GET", API),
    Route("api:portfolio-dashboard", "GET", API),
    Route("api:portfolio-maturity", "GET", API),
    Route("api:maturityassessment-list", "GET", API_LIST),
    Route(
        "api:maturityassessment-list",
        "POST",
        statuses(403, board=201, admin=201, anonymous=401),
        data=assessment_payload,
        audit="maturity_assessment.recorded",
    ),
    Route("api:maturityassessment-detail", "GET", API_DETAIL, kwargs=assessment_pk, setup=make_assessment),
    Route("api:patternminimum-list", "GET", API_LIST),
    Route("api:patternminimum-detail", "GET", API_DETAIL, kwargs=core_process),
    Route(
        "api:patternminimum-detail",
        "PUT",
        statuses(403, admin=200, service_account=404, anonymous=401),
        kwargs=core_process,
        data=lambda c, user: {"strategy": 3, "process": 3, "governance": 4, "technology": 3, "adoption": 3},
        audit="pattern_minimum.changed",
    ),
    Route(
        "api:patternminimum-detail",
        "PATCH",
        statuses(403, admin=200, service_account=404, anonymous=401),
        kwargs=core_process,
        data=lambda c, user: {"process": 3},
        audit="pattern_minimum.changed",
    ),
]
