"""Portfolio pages: the leadership dashboard, maturity, the agent drill-down and the exports.

Who sees what:
- board members, leadership viewers and platform administrators (the
  ``portfolio.view_portfolio`` permission) see the whole portfolio read-only,
  its history, and may download every export and the board pack;
- any other signed-in person gets the dashboard of the agents they own or
  help maintain (no organisation-wide history or shadow agents, no exports);
- maturity pages are readable by every signed-in person (unit maturity is
  not confidential); recording an assessment needs the board or an admin.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from portfolio import chargeback, exports, presenters, quality, reports, services, sources
from portfolio.choices import DIMENSION_HELP, DIMENSIONS
from portfolio.forms import MaturityAssessmentForm, checked_filter, filter_from
from portfolio.models import MaturityAssessment, PatternMinimum
from registry.forms import add_service_errors
from registry.models import BusinessUnit
from registry.roles import is_leadership
from runtime import reports as runtime_reports

AGENTS_PAGE_SIZE = 25


def _scope(user) -> reports.Scope:
    if not (user.is_person or user.has_perm("portfolio.view_portfolio")):
        raise PermissionDenied("The portfolio is for people and the leadership roles.")
    return reports.scope_for(user)


def _require_full(user) -> reports.Scope:
    scope = _scope(user)
    if not scope.full:
        raise PermissionDenied("Exports and the board pack are for the board, leadership and administrators.")
    return scope


def landing_for_leadership(user) -> str | None:
    """registry.hooks.landing_pages: leadership lands on the portfolio."""
    return reverse("portfolio:dashboard") if is_leadership(user) else None


@login_required
def dashboard(request):
    scope = _scope(request.user)
    form, flt = filter_from(request.GET or None)
    now = timezone.now()
    dash = reports.dashboard(scope, flt, now)
    query = reports.query_string(flt.query_params())
    month = chargeback.parse_month(request.GET.get("month"), now.date())
    return render(
        request,
        "portfolio/dashboard.html",
        {
            "nav": "portfolio",
            "form": form,
            "dash": dash,
            "charts": presenters.all_charts(dash),
            "query": query,
            "findings_tracked": sources.finding_model() is not None,
            "decisions": runtime_reports.decisions_by_unit(scope.agents, now),
            "chargeback": chargeback.chargeback(flt.apply(scope.agents), month),
            "quality": quality.quality(flt.apply(scope.agents), now.date()),
        },
    )


@login_required
def agents(request):
    """The agents behind a portfolio figure that the catalog cannot filter for (tool, outcome, maturity trap)."""
    scope = _scope(request.user)
    form, flt = filter_from(request.GET or None)
    qs = flt.apply(scope.agents).with_list_related()
    title = "Agents"
    tool = request.GET.get("tool")
    if tool:
        qs = qs.filter(versions__tool_grants__tool__key=tool).exclude(lifecycle="retired").distinct()
        title = f"Live agents allowed to call {tool}"
    outcome = request.GET.get("outcome")
    if outcome in dict(reports.OUTCOME_BUCKETS):
        qs = reports.with_outcome(qs.filter(lifecycle__in=("pilot", "production"))).filter(outcome=outcome)
        title = f"Running agents: {dict(reports.OUTCOME_BUCKETS)[outcome].lower()}"
    if request.GET.get("trap"):
        trapped = services.maturity_trap_agents(timezone.now())
        qs = qs.filter(pk__in=list(trapped))
        title = "Agents in the maturity trap"
    page = Paginator(qs.order_by("name", "key"), AGENTS_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "portfolio/agents.html",
        {"nav": "portfolio", "title": title, "page": page, "query": query.urlencode(), "form": form},
    )


# --- Maturity ---------------------------------------------------------------------


@login_required
def maturity_overview(request):
    scope = _scope(request.user)
    units = reports.maturity(scope, reports.PortfolioFilter(), timezone.localdate())
    return render(
        request,
        "portfolio/maturity_overview.html",
        {
            "nav": "maturity",
            "heatmap": presenters.heatmap_chart(units),
            "readiness": presenters.readiness_chart(units),
            "minimums": PatternMinimum.objects.for_user(request.user),
            "dimensions": DIMENSIONS,
            "can_assess": services.can_record_maturity(request.user),
        },
    )


@login_required
def unit_maturity(request, slug):
    scope = _scope(request.user)
    unit = get_object_or_404(BusinessUnit.objects.for_user(request.user), slug=slug)
    flt = reports.PortfolioFilter(business_unit=unit)
    units = reports.maturity(scope, flt, timezone.localdate())
    current = units[0]
    current_rows = []
    if current.assessment:
        scores, rationales = current.assessment.scores(), current.assessment.rationales()
        current_rows = [
            {
                "name": d,
                "help": DIMENSION_HELP[d],
                "level": scores[d],
                "rationale": rationales[d],
                "ceiling": d in current.ceiling,
            }
            for d in DIMENSIONS
        ]
    history = MaturityAssessment.objects.for_user(request.user).filter(business_unit=unit).select_related("assessed_by")
    return render(
        request,
        "portfolio/unit_maturity.html",
        {
            "nav": "maturity",
            "unit": unit,
            "current": current,
            "current_rows": current_rows,
            "sub_units": units[1:],
            "history": history,
            "dimensions": [(d, DIMENSION_HELP[d]) for d in DIMENSIONS],
            "readiness": presenters.readiness_chart(units),
            "can_assess": services.can_record_maturity(request.user),
            "trap_url": reports.agents_url(flt, trap="1"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def assess_unit(request, slug):
    _scope(request.user)
    unit = get_object_or_404(BusinessUnit.objects.for_user(request.user), slug=slug)
    if not services.can_record_maturity(request.user):
        raise PermissionDenied("Only the governance board and platform administrators assess maturity.")
    previous = MaturityAssessment.objects.filter(business_unit=unit).first()
    form = MaturityAssessmentForm(
        request.POST or None, previous=previous, initial={"assessed_on": timezone.localdate()}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.record_maturity_assessment(
                unit,
                actor=request.user,
                assessed_on=data["assessed_on"],
                scores={d: data[d] for d in DIMENSIONS},
                rationales={d: data[f"{d}_rationale"] for d in DIMENSIONS},
                notes=data.get("notes", ""),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Maturity of {unit.name} recorded.")
            return redirect("portfolio:unit-maturity", slug=unit.slug)
    return render(request, "portfolio/assess_form.html", {"nav": "maturity", "unit": unit, "form": form})


# --- Exports ----------------------------------------------------------------------


def _export(view):
    """An export view: signed in, one of the whole-portfolio readers (403 otherwise), and filtered by the
    query string; a bad filter parameter gets a 400 naming it, never a file of the wrong agents."""

    @login_required
    @wraps(view)
    def wrapped(request):
        scope = _require_full(request.user)
        try:
            flt = checked_filter(request.GET or None)
        except ValidationError as exc:
            problems = "\n".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())
            return HttpResponse(f"The export filter is not valid.\n{problems}\n", status=400, content_type="text/plain")
        return view(request, scope, flt)

    return wrapped


def _stream_csv(rows, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@_export
def export_agents_csv(request, scope, flt):
    return _stream_csv(exports.agents_csv(flt.apply(scope.agents)), "agents.csv")


@_export
def export_findings_csv(request, scope, flt):
    rows = exports.findings_csv(flt.apply(scope.agents))
    if rows is None:
        return HttpResponse("Findings are not tracked yet.", status=404, content_type="text/plain")
    return _stream_csv(rows, "findings.csv")


@_export
def export_requirements_csv(request, scope, flt):
    rows = exports.requirements_csv(flt.apply(scope.agents))
    if rows is None:
        return HttpResponse("Control requirements are not tracked yet.", status=404, content_type="text/plain")
    return _stream_csv(rows, "requirements.csv")


@_export
def export_chargeback_csv(request, scope, flt):
    month = chargeback.parse_month(request.GET.get("month"), timezone.now().date())
    report = chargeback.chargeback(flt.apply(scope.agents), month)
    return _stream_csv(
        exports.rows_csv(chargeback.CSV_HEADER, chargeback.csv_rows(report)), f"chargeback-{month:%Y-%m}.csv"
    )


@_export
def export_workbook(request, scope, flt):
    now = timezone.now()
    dash = reports.dashboard(scope, flt, now)
    month = chargeback.parse_month(request.GET.get("month"), now.date())
    report = chargeback.chargeback(flt.apply(scope.agents), month)
    data = exports.workbook(dash, flt.apply(scope.agents), reports.top_risks(scope, flt), charges=report)
    return FileResponse(
        data,
        as_attachment=True,
        filename="portfolio.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@_export
def export_board_pack(request, scope, flt):
    from portfolio import boardpack

    now = timezone.now()
    pdf = boardpack.render(scope, flt, now)
    unit = flt.business_unit.slug if flt.business_unit else "organisation"
    return FileResponse(
        pdf, as_attachment=True, filename=f"board-pack-{unit}-{now:%Y-%m-%d}.pdf", content_type="application/pdf"
    )


@_export
def export_inventory(request, scope, flt):
    response = StreamingHttpResponse(
        exports.inventory_bom(flt.apply(scope.agents), timezone.now()), content_type="application/vnd.cyclonedx+json"
    )
    response["Content-Disposition"] = 'attachment; filename="agent-inventory.cdx.json"'
    return response
