"""EU AI Act documents drawn from the record, as PDF (ReportLab, like the portfolio's board pack).

- the regulator report of a serious incident (Art. 73): the incident, its clock and the reports sent,
  the agent's record, the version it ran at the time, and its oversight measures.

Every section states where its content came from; what the record lacks is written as a gap, never
left out. Evidence is restricted, so the builders take the requesting user and read evidence through
``Evidence.objects.for_user``: a reader without access sees that it exists but is withheld.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from governance import compliance, eu_ai_act
from governance.choices import ControlState
from governance.models import Evidence, RiskAssessment, RiskPolicy

MARGIN = 15 * mm
WIDTH = A4[0] - 2 * MARGIN
OVERSIGHT_CONTROLS = ("human-oversight", "fria", "log-retention", "disclosure")


@dataclass
class Section:
    """One section of a document: rows of (label, value), free paragraphs, its source and gaps."""

    title: str
    source: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)

    def add(self, label: str, value, gap: str | None = None) -> None:
        text = "" if value is None else str(value).strip()
        if text:
            self.rows.append((label, text))
        else:
            self.gaps.append(gap or f"{label}: not recorded.")


def _styles():
    base = getSampleStyleSheet()
    return {
        "title": base["Title"],
        "h2": base["Heading2"],
        "body": base["BodyText"],
        "cell": ParagraphStyle("cell", parent=base["BodyText"], fontSize=8, leading=10),
        "source": ParagraphStyle("source", parent=base["BodyText"], fontSize=7.5, leading=9.5, textColor="#475467"),
        "gap": ParagraphStyle("gap", parent=base["BodyText"], fontSize=8, leading=10, textColor="#b42318"),
    }


def _p(text: str, style) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def render_pdf(title: str, subtitle: str, sections: list[Section]) -> bytes:
    """The sections as a PDF: long values wrap inside the column (Paragraphs in cells), so nothing
    runs off the page."""
    s = _styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN, title=title
    )
    story = [_p(title, s["title"]), _p(subtitle, s["body"]), Spacer(1, 4 * mm)]
    for section in sections:
        story.append(_p(section.title, s["h2"]))
        story.append(_p(f"Source: {section.source}", s["source"]))
        if section.rows:
            table = Table(
                [[_p(label, s["cell"]), _p(value, s["cell"])] for label, value in section.rows],
                colWidths=[45 * mm, WIDTH - 45 * mm],
            )
            table.setStyle(
                TableStyle(
                    [
                        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#d0d5dd")),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eef1f5")),
                    ]
                )
            )
            story.append(table)
        for paragraph in section.paragraphs:
            story.append(_p(paragraph, s["body"]))
        if section.gaps:
            story.append(_p("Gaps:", s["gap"]))
            story += [_p(f"• {gap}", s["gap"]) for gap in section.gaps]
        story.append(Spacer(1, 3 * mm))
    doc.build(story)
    return buffer.getvalue()


def render_markdown(title: str, subtitle: str, sections: list[Section]) -> str:
    lines = [f"# {title}", "", subtitle, ""]
    for section in sections:
        lines += [f"## {section.title}", "", f"_Source: {section.source}_", ""]
        if section.rows:
            lines += ["| Item | Value |", "| --- | --- |"]
            lines += [
                f"| {label} | {value.replace('|', '/').replace(chr(10), '<br>')} |" for label, value in section.rows
            ]
            lines.append("")
        lines += [*section.paragraphs, ""] if section.paragraphs else []
        if section.gaps:
            lines += ["**Gaps:**", "", *[f"- {gap}" for gap in section.gaps], ""]
    return "\n".join(lines)


def _when(value) -> str:
    return f"{value:%d %b %Y %H:%M} UTC" if value else ""


def _current_assessment(agent):
    return RiskAssessment.objects.current().filter(agent=agent).order_by("-confirmed_at", "-id").first()


def oversight_section(agent, user, *, title="Human oversight and escalation") -> Section:
    """The agent's oversight measures: autonomy, mode, escalation, and the evidence of its oversight
    controls as far as ``user`` may read evidence."""
    section = Section(
        title,
        f"agent record {agent.key} (last changed {_when(agent.updated_at)}) and the evidence register",
    )
    section.add("Autonomy level", agent.autonomy_level)
    section.add("Mode", agent.get_mode_display())
    section.add("Escalation contact", agent.escalation_contact)
    section.add("Escalation procedure", agent.escalation_procedure)
    section.add("Forbidden actions", agent.forbidden_actions)
    visible = Evidence.objects.for_user(user, "view").filter(agent=agent, control_code__in=OVERSIGHT_CONTROLS)
    hidden = Evidence.objects.filter(agent=agent, control_code__in=OVERSIGHT_CONTROLS).exclude(
        pk__in=visible.values("pk")
    )
    for evidence in visible.order_by("control_code", "-submitted_at")[:20]:
        reviewed = f", reviewed {_when(evidence.reviewed_at)}" if evidence.reviewed_at else ""
        section.rows.append(
            (
                f"Evidence · {evidence.control_code}",
                f"{evidence.get_status_display()}: {evidence.summary or evidence.statement[:600] or evidence.url}"
                f" (submitted {_when(evidence.submitted_at)}{reviewed})",
            )
        )
    if hidden.exists():
        section.gaps.append(f"{hidden.count()} evidence item(s) withheld: you may not read this agent's evidence.")
    if not visible.filter(control_code="human-oversight").exists() and not hidden.exists():
        section.gaps.append("No evidence of human oversight (control human-oversight) is recorded.")
    return section


def agent_section(agent, *, title="The AI system (agent record)") -> Section:
    section = Section(title, f"agent record {agent.key} (last changed {_when(agent.updated_at)})")
    section.add("Name and key", f"{agent.name} ({agent.key})")
    section.add("Business unit", agent.business_unit.name)
    section.add("Owner", agent.owner.get_full_name() or agent.owner.username)
    section.add("Purpose (objective)", agent.objective)
    section.add("Description", agent.description)
    section.add("Allowed actions", agent.allowed_actions)
    section.add("Data classification", agent.get_data_classification_display())
    section.add("Lifecycle", agent.get_lifecycle_display())
    assessment = _current_assessment(agent)
    if assessment is not None:
        section.add("EU AI Act category", assessment.get_eu_ai_act_category_display())
        section.add("Risk tier", f"{assessment.tier} (confirmed {_when(assessment.confirmed_at)})")
    else:
        section.gaps.append("No confirmed risk assessment: EU AI Act category and tier unknown.")
    return section


def version_section(version, *, title="Version at the time") -> Section:
    if version is None:
        section = Section(title, "incident record")
        section.gaps.append("The incident does not name the version that was running.")
        return section
    section = Section(title, f"version {version.label} (registered {_when(version.created_at)})")
    section.add("Version", version.label)
    section.add("Model", " ".join(x for x in (version.model_provider, version.model_name, version.model_version) if x))
    section.add("Prompt version", version.prompt_version)
    section.add("Orchestration version", version.orchestration_version)
    section.add("Change summary", version.change_summary)
    grants = [f"{g.tool.name} ({g.access})" for g in version.tool_grants.select_related("tool").order_by("tool__name")]
    section.add("Tools", ", ".join(grants), "Tools: none granted to this version.")
    return section


def regulator_report(incident, user, now: datetime) -> tuple[str, str, list[Section]]:
    """The serious-incident report for the market surveillance authority (Art. 73)."""
    policy = RiskPolicy.objects.current()
    reports = list(incident.authority_reports.order_by("sent_at", "id"))
    clock = eu_ai_act.report_clock(incident, policy, now, reports=reports)
    first = Section("Serious incident", f"incident register #{incident.pk} (recorded {_when(incident.reported_at)})")
    first.add("Title", incident.title)
    first.add("Category (Art. 3(49))", incident.get_serious_category_display(), "Not marked a serious incident.")
    first.add("Severity", incident.get_severity_display())
    first.add("What happened", incident.what_happened)
    first.add("Detected", _when(incident.detected_at))
    first.add("Organisation aware", _when(incident.aware_at))
    first.add("Status", incident.get_status_display())
    first.add("Resolution", incident.resolution, "Resolution: not yet resolved.")
    first.add("Corrective and follow-up actions", incident.follow_up_actions)
    timing = Section(
        "Reporting deadline and reports sent",
        f"risk policy v{policy.version} (report days per category) and the reports recorded",
    )
    if clock is not None:
        timing.add("Deadline", f"{_when(clock.deadline)} ({clock.days} days from awareness)")
        timing.add("Clock", f"{clock.get_stage_label()} · {clock.time_left_label()}")
        for report in reports:
            timing.rows.append(
                (
                    report.get_kind_display(),
                    f"{_when(report.sent_at)} to {report.authority}"
                    + (f", reference {report.reference}" if report.reference else ""),
                )
            )
        timing.gaps += clock.still_due
    else:
        timing.gaps.append("No report clock: the incident is not marked serious.")
    sections = [
        first,
        timing,
        agent_section(incident.agent),
        version_section(incident.version),
        oversight_section(incident.agent, user),
    ]
    title = f"Serious incident report (EU AI Act Art. 73): {incident.title}"
    subtitle = f"{incident.agent.name} ({incident.agent.key}) · generated {now:%d %B %Y %H:%M} UTC"
    return title, subtitle, sections


# --- Fundamental-rights impact assessment (Art. 27) -----------------------------------------------------

FRIA_QUESTIONS = (
    ("process_and_purpose", "Process and purpose (Art. 27(1)(a))"),
    ("period_and_frequency", "Period and frequency of use (Art. 27(1)(b))"),
    ("people_affected", "Categories of people affected (Art. 27(1)(c))"),
    ("risks_of_harm", "Specific risks of harm (Art. 27(1)(d))"),
    ("oversight_measures", "Human-oversight measures (Art. 27(1)(e))"),
    ("materialisation_measures", "When risks materialise (Art. 27(1)(f))"),
)


def _oversight_evidence_lines(agent, user) -> list[str]:
    visible = Evidence.objects.for_user(user, "view").filter(agent=agent, control_code="human-oversight")
    return [
        f"- {e.summary or e.statement[:300] or e.url} ({e.get_status_display().lower()}, {e.submitted_at:%d %b %Y})"
        for e in visible.order_by("-submitted_at")[:5]
    ]


def fria_prefill(agent, user) -> dict[str, str]:
    """What the registry already knows, as a first draft of each answer; the owner completes it."""
    assessment = _current_assessment(agent)
    purpose = [agent.objective or "", agent.description or ""]
    if agent.allowed_actions:
        purpose.append(f"It may: {agent.allowed_actions}")
    environments = [
        name
        for name, on in (
            ("development", agent.runs_in_development),
            ("staging", agent.runs_in_staging),
            ("production", agent.runs_in_production),
        )
        if on
    ]
    period = f"Lifecycle: {agent.get_lifecycle_display()}; runs in {', '.join(environments) or 'no environment yet'}."
    people = []
    if assessment is not None:
        people.append(f"Scale: {assessment.get_people_affected_display()}.")
    people.append(
        "External people (customers, citizens) interact with it." if agent.external_facing else "Used by employees."
    )
    risks = [f"Data classification: {agent.get_data_classification_display()}."]
    if assessment is not None and assessment.personal_or_regulated_data:
        risks.append("It handles personal or regulated data.")
    if agent.forbidden_actions:
        risks.append(f"Boundaries (must never): {agent.forbidden_actions}")
    oversight = [f"Autonomy level {agent.autonomy_level}, mode {agent.get_mode_display().lower()}."]
    if agent.escalation_contact:
        oversight.append(f"Escalation contact: {agent.escalation_contact}.")
    oversight += _oversight_evidence_lines(agent, user)
    materialise = []
    if agent.escalation_procedure:
        materialise.append(f"Escalation procedure: {agent.escalation_procedure}")
    materialise.append(
        "Incidents are recorded in the registry's incident register; serious incidents are reported to the "
        "market surveillance authority within the Art. 73 deadlines; the agent can be suspended at once."
    )
    return {
        "process_and_purpose": "\n".join(p for p in purpose if p).strip(),
        "period_and_frequency": period,
        "people_affected": " ".join(people),
        "risks_of_harm": "\n".join(risks),
        "oversight_measures": "\n".join(oversight),
        "materialisation_measures": "\n".join(materialise),
    }


def fria_document(fria, user, now: datetime) -> tuple[str, str, list[Section]]:
    agent = fria.agent
    by = fria.submitted_by.get_full_name() or fria.submitted_by.username if fria.submitted_by else "unknown"
    answers = Section(
        "Assessment (Art. 27(1))",
        f"answers submitted by {by} on {_when(fria.submitted_at)}, drafted from the agent record",
    )
    for name, label in FRIA_QUESTIONS:
        answers.add(label, getattr(fria, name))
    sections = [agent_section(agent), answers, oversight_section(agent, user)]
    title = f"Fundamental-rights impact assessment: {agent.name}"
    subtitle = f"{agent.key} · EU AI Act Art. 27 · generated {now:%d %B %Y %H:%M} UTC"
    return title, subtitle, sections


# --- Technical documentation (Annex IV style) ---------------------------------------------------------

TECHNICAL_FILE_SECTIONS = (
    "1. Purpose and intended use",
    "2. Versions: model, prompt and tools",
    "3. Data classification",
    "4. Risk assessment",
    "5. Controls and their evidence",
    "6. Human oversight and escalation",
    "7. Monitoring: telemetry and findings history",
    "8. Incidents",
    "9. EU AI Act obligations",
)


def technical_file(agent, user, now: datetime) -> tuple[str, str, list[Section]]:
    """The per-agent technical file. Evidence is read through ``for_user``: what ``user`` may not read
    is counted as withheld, never shown."""
    from governance.models import Finding, Incident
    from telemetry.models import MonitoringState

    when = _when(agent.updated_at)
    purpose = Section(TECHNICAL_FILE_SECTIONS[0], f"agent record {agent.key}, last changed {when}")
    purpose.add("Name and key", f"{agent.name} ({agent.key})")
    purpose.add("Owner", agent.owner.get_full_name() or agent.owner.username)
    purpose.add("Business unit", agent.business_unit.name)
    purpose.add("Objective", agent.objective)
    purpose.add("Description", agent.description)
    purpose.add("Allowed actions", agent.allowed_actions)
    purpose.add("Forbidden actions", agent.forbidden_actions)
    purpose.add("Inputs", agent.inputs)
    purpose.add("Actions in other systems", agent.actions)
    purpose.add("Pattern, topology", f"{agent.get_pattern_display()}, {agent.get_topology_display()}")
    purpose.add("Lifecycle", agent.get_lifecycle_display())

    versions = list(agent.versions.order_by("-created_at", "-id")[:10])
    latest = _when(versions[0].created_at) if versions else "never"
    version_section_ = Section(TECHNICAL_FILE_SECTIONS[1], f"version register, newest registered {latest}")
    for version in versions:
        grants = ", ".join(
            f"{g.tool.name} ({g.access})" for g in version.tool_grants.select_related("tool").order_by("tool__name")
        )
        model = " ".join(x for x in (version.model_provider, version.model_name, version.model_version) if x)
        version_section_.rows.append(
            (
                f"Version {version.label}",
                f"model {model}; prompt {version.prompt_version or 'not recorded'}; tools: {grants or 'none'}"
                f" (registered {_when(version.created_at)})",
            )
        )
        if not version.prompt_version:
            version_section_.gaps.append(f"Version {version.label}: prompt version not recorded.")
    if not versions:
        version_section_.gaps.append("No version registered.")

    data = Section(TECHNICAL_FILE_SECTIONS[2], f"agent record {agent.key}, last changed {when}")
    data.add("Data classification", agent.get_data_classification_display())
    data.add("Handles personal data", "yes" if agent.handles_personal_data else "no")
    data.add("Handles regulated data", "yes" if agent.handles_regulated_data else "no")

    assessment = _current_assessment(agent)
    risk = Section(
        TECHNICAL_FILE_SECTIONS[3],
        f"risk assessment confirmed {_when(assessment.confirmed_at)}" if assessment else "risk assessment register",
    )
    if assessment is None:
        risk.gaps.append("No confirmed risk assessment.")
    else:
        risk.add("Risk tier", f"{assessment.tier} (score {assessment.score})")
        risk.add("EU AI Act category", assessment.get_eu_ai_act_category_display())
        risk.add("Reason for the category", getattr(assessment, "eu_ai_act_reason", ""))
        risk.add("People affected", assessment.get_people_affected_display())
        risk.add("Action impact", assessment.get_action_impact_display())
        if assessment.is_stale:
            risk.gaps.append("The assessment is stale: the facts it covered changed.")

    statuses = compliance.checklist(agent, now)
    controls = Section(TECHNICAL_FILE_SECTIONS[4], f"control catalog of the policy in force, evaluated {_when(now)}")
    visible_ids = set(Evidence.objects.for_user(user, "view").filter(agent=agent).values_list("pk", flat=True))
    withheld = 0
    for status in statuses:
        evidence = status.evidence or status.pending
        line = str(ControlState(status.state).label)
        if evidence is not None:
            if evidence.pk in visible_ids:
                line += f": {evidence.summary or evidence.statement[:300] or evidence.url or evidence.file_name}"
                line += f" (submitted {_when(evidence.submitted_at)})"
            else:
                withheld += 1
                line += ": evidence withheld"
        controls.rows.append((f"{status.control.code} · {status.control.name}", line))
        if status.is_gap:
            controls.gaps.append(f"{status.control.code}: {line}.")
    if withheld:
        controls.gaps.append(f"{withheld} evidence item(s) withheld: you may not read this agent's evidence.")

    oversight = oversight_section(agent, user, title=TECHNICAL_FILE_SECTIONS[5])

    state = MonitoringState.objects.filter(agent=agent).first()
    findings = list(Finding.objects.for_user(user).filter(agent=agent).order_by("-opened_at")[:15])
    monitoring = Section(
        TECHNICAL_FILE_SECTIONS[6],
        f"telemetry monitoring state{f' (updated {_when(state.updated_at)})' if state else ''} and findings register",
    )
    if state is None or state.last_seen_at is None:
        monitoring.gaps.append("No telemetry received from this agent.")
    else:
        monitoring.add("Last telemetry", f"{_when(state.last_seen_at)} from {state.last_environment}")
    for finding in findings:
        end = f", resolved {_when(finding.resolved_at)}" if finding.resolved_at else ", open"
        monitoring.rows.append(
            (f"Finding · {finding.get_kind_display()}", f"{finding.summary} (opened {_when(finding.opened_at)}{end})")
        )
    if not any(f.kind == "drift" for f in findings):
        monitoring.paragraphs.append("Drift: no drift finding recorded.")

    incidents = Section(TECHNICAL_FILE_SECTIONS[7], "incident register")
    for incident in Incident.objects.for_user(user).filter(agent=agent).order_by("-detected_at")[:20]:
        serious = f", serious: {incident.get_serious_category_display()}" if incident.serious_category else ""
        incidents.rows.append(
            (
                f"{_when(incident.detected_at)}",
                f"{incident.title} ({incident.get_severity_display()}, {incident.get_status_display()}{serious})",
            )
        )
    if not incidents.rows:
        incidents.paragraphs.append("No incident recorded.")

    policy = RiskPolicy.objects.current()
    category = assessment.eu_ai_act_category if assessment else None
    reaching = eu_ai_act.obligations_for(policy, category, now.date())
    obligations = Section(TECHNICAL_FILE_SECTIONS[8], f"obligations timeline of risk policy v{policy.version}")
    for obligation in reaching["apply"]:
        obligations.rows.append((obligation.title, f"applies since {obligation.applies_from:%d %b %Y}"))
    for obligation in reaching["coming"]:
        obligations.rows.append((obligation.title, f"applies from {obligation.applies_from:%d %b %Y}"))
    if category is None:
        obligations.gaps.append("Without a confirmed assessment, the obligations that reach the agent are unknown.")
    elif not obligations.rows:
        obligations.paragraphs.append("No obligation of the timeline reaches this category.")

    sections = [purpose, version_section_, data, risk, controls, oversight, monitoring, incidents, obligations]
    title = f"Technical documentation: {agent.name}"
    subtitle = f"{agent.key} · EU AI Act Annex IV outline · generated {now:%d %B %Y %H:%M} UTC"
    return title, subtitle, sections
