"""The default policy v1 of the domain reference, as data.

Loaded once by a data migration (0002); platform administrators change it
from then on by publishing new versions. Nothing reads these constants at run
time except that migration and the tests that check it loaded faithfully.
"""

HOURS_PER_DAY = 24

DEFAULT_WEIGHTS = {
    "autonomy_level": {"1": 0, "2": 1, "3": 2, "4": 3, "5": 4},
    "external_facing": {"false": 0, "true": 3},
    "data_classification": {"public": 0, "internal": 1, "confidential": 2, "restricted": 3},
    "personal_or_regulated_data": {"false": 0, "true": 1},
    "action_impact": {"read_only": 0, "internal_reversible": 1, "production_affecting": 2, "financial_legal": 3},
    "irreversible_actions": {"false": 0, "true": 2},
    "people_affected": {"under_100": 0, "under_10000": 1, "more": 2},
}

# Minimum score of each tier above low: 0-3 low, 4-7 medium, 8-11 high, 12+ critical.
DEFAULT_THRESHOLDS = {"medium": 4, "high": 8, "critical": 12}

DEFAULT_PATTERN_FLOORS = {"core_process": "high", "external_engagement": "high", "ai_first": "high"}

DEFAULT_AUTONOMY_FLOORS = [
    {
        "autonomy_level": 5,
        "with_any": [{"irreversible_actions": True}, {"action_impact": "financial_legal"}],
        "tier": "critical",
        "reason": "level 5 autonomy with irreversible or financial/legal actions",
    }
]

DEFAULT_EU_AI_ACT = {
    # Art. 5 practices cannot be approved anywhere; scored critical so the board sees it first.
    "prohibited": {"tier_floor": "critical", "blocks_approval": True},
    "high_risk": {"tier_floor": "high", "blocks_approval": False},
    "transparency": {"tier_floor": "", "blocks_approval": False},
    "minimal": {"tier_floor": "", "blocks_approval": False},
    "not_applicable": {"tier_floor": "", "blocks_approval": False},
}

DEFAULT_CADENCES = {
    "low": {"review_days": 365, "silence_production_hours": 7 * HOURS_PER_DAY, "silence_pilot_hours": 14 * 24},
    "medium": {"review_days": 180, "silence_production_hours": 72, "silence_pilot_hours": 6 * HOURS_PER_DAY},
    "high": {"review_days": 90, "silence_production_hours": 24, "silence_pilot_hours": 48},
    "critical": {"review_days": 30, "silence_production_hours": 1, "silence_pilot_hours": 2},
}

ALWAYS = [{"always": True}]
MEDIUM_PLUS = [{"tier_at_least": "medium"}]
HIGH_PLUS = [{"tier_at_least": "high"}]
CRITICAL = [{"tier_at_least": "critical"}]
EXTERNAL = [{"external_facing": True}]
EU_HIGH_RISK = [{"eu_ai_act": ["high_risk"]}]
SCOPE_FACTS = ["objective", "allowed_actions", "forbidden_actions", "inputs", "actions", "pattern", "autonomy_level"]

# (code, name, evidence expected, validity, days, applies_when, nist, iso 42001 Annex A area, EU AI Act, invalidated_by)
_CATALOG = [
    ("owner", "Named accountable owner", "Checked by the system: the owner is an active person.",
     "system", None, ALWAYS, "govern", "A.3 Internal organization", "", []),
    ("scope", "Objective and boundaries written down",
     "The agent record's objective, allowed and forbidden actions, or a linked scope document.",
     "until_changed", None, ALWAYS, "map", "A.6 AI system life cycle", "", SCOPE_FACTS),
    ("audit-trail", "Immutable trace of prompts, tool calls and outputs",
     "Where the traces are kept, how they are protected from change, and a sample.",
     "until_changed", None, ALWAYS, "manage", "A.6 AI system life cycle", "Art. 12", ["topology", "autonomy_level"]),
    ("release-gate", "Release checklist approved before production",
     "The completed release checklist for this version.",
     "per_release", None, ALWAYS, "govern", "A.6 AI system life cycle", "", []),
    ("monitoring", "Telemetry received within the tier's window",
     "Checked by the system from telemetry.", "system", None, ALWAYS, "measure", "A.6 AI system life cycle",
     "Art. 26", []),
    ("escalation", "Escalation path to a human documented",
     "Who takes over, how they are reached and when the agent hands off.",
     "until_changed", None, ALWAYS, "govern", "A.9 Use of AI systems", "Art. 14",
     ["escalation_contact", "escalation_procedure"]),
    ("tool-allowlist", "Least-privilege tool allowlist", "The reviewed list of tools with read or write access.",
     "days", 365, MEDIUM_PLUS, "manage", "A.9 Use of AI systems", "", []),
    ("guardrails", "Input pre-checks and output post-checks", "The checks in place and their test results.",
     "days", 365, MEDIUM_PLUS, "manage", "A.6 AI system life cycle", "Art. 15", []),
    ("evaluation", "Scenario tests or gold set passed for this version", "The evaluation report of this version.",
     "per_release", None, MEDIUM_PLUS, "measure", "A.6 AI system life cycle", "Art. 15", []),
    ("rollback", "Versioned release with tested rollback", "The rollback procedure and the record of its last test.",
     "days", 365, MEDIUM_PLUS, "manage", "A.6 AI system life cycle", "", []),
    ("sla-monitoring", "Production SLA monitoring with alerts", "The SLA, its dashboards and alert routing.",
     "days", 365, HIGH_PLUS, "measure", "A.6 AI system life cycle", "", []),
    ("security-review", "Security review", "The security review report and its closed findings.",
     "days", 365, HIGH_PLUS, "measure", "A.6 AI system life cycle", "Art. 15", []),
    ("responsible-ai", "Responsible-AI assessment", "The responsible-AI assessment: fairness, harms, mitigations.",
     "days", 365, HIGH_PLUS, "map", "A.5 Assessing impacts of AI systems", "", []),
    ("decision-rights", "Decision rights and autonomy limits",
     "What the agent may decide alone and what needs a human (for example amounts).",
     "days", 365, [{"tier_at_least": "high"}, {"mode": "execute"}], "govern", "A.9 Use of AI systems", "Art. 14", []),
    ("incident-response", "Incident response plan", "The plan: who is called, how to contain, how to report.",
     "days", 365, HIGH_PLUS, "manage", "A.8 Information for interested parties", "Art. 73", []),
    ("human-checkpoint", "Human-in-the-loop checkpoints for high-risk actions",
     "Which actions stop for a human and how that is enforced.",
     "days", 365, HIGH_PLUS, "manage", "A.9 Use of AI systems", "Art. 14", []),
    ("kill-switch", "Pause and disable tested", "The record of the last pause/disable drill.",
     "days", 180, CRITICAL, "manage", "A.9 Use of AI systems", "Art. 14", []),
    ("independent-review", "Independent review", "The report of a reviewer independent of the team.",
     "days", 90, CRITICAL, "govern", "A.3 Internal organization", "", []),
    ("disclosure", "Users told they deal with an AI", "Screenshots or text of the disclosure users see.",
     "days", 365, [{"external_facing": True}, {"eu_ai_act": ["transparency"]}], "govern",
     "A.8 Information for interested parties", "Art. 50", []),
    ("consent", "Consent captured where required", "How and where consent is captured and stored.",
     "days", 365, EXTERNAL, "govern", "A.7 Data for AI systems", "", []),
    ("identity-isolation", "Agent identity isolated from internal identities",
     "The agent's identities and proof they cannot reach internal accounts.",
     "days", 365, EXTERNAL, "manage", "A.4 Resources for AI systems", "", []),
    ("realtime-monitoring", "Real-time monitoring of conversations and actions",
     "The live monitoring in place and who watches it.",
     "days", 365, EXTERNAL, "measure", "A.6 AI system life cycle", "Art. 26", []),
    ("incident-15min", "15-minute incident response plan", "The on-call plan that reacts within 15 minutes.",
     "days", 180, EXTERNAL, "manage", "A.8 Information for interested parties", "Art. 73", []),
    ("knowledge-quality", "Knowledge sources authoritative, current and complete",
     "The knowledge sources, their owners and the expert's audit of outputs.",
     "days", 180, [{"pattern": ["expert_empowerment"]}], "measure", "A.7 Data for AI systems", "Art. 10", []),
    ("data-minimisation", "Personal data redacted or minimised before it reaches models",
     "The redaction or minimisation in place and a test of it.",
     "days", 365, [{"personal_or_regulated_data": True}], "map", "A.7 Data for AI systems", "", []),
    ("data-residency", "Data stays in required regions", "Where data is processed and stored, and the contracts.",
     "days", 365, [{"data_classification": ["restricted"]}], "govern", "A.7 Data for AI systems", "", []),
    ("fria", "Fundamental-rights impact assessment", "The fundamental-rights impact assessment, where it applies.",
     "days", 365, EU_HIGH_RISK, "map", "A.5 Assessing impacts of AI systems", "Art. 27", []),
    ("human-oversight", "Competent people oversee it, with authority to stop it",
     "Who oversees the agent, their training and their authority to stop it.",
     "days", 365, EU_HIGH_RISK, "govern", "A.9 Use of AI systems", "Art. 14, Art. 26", []),
    ("log-retention", "Logs kept at least six months", "The retention setting of the agent's logs.",
     "days", 365, EU_HIGH_RISK, "manage", "A.6 AI system life cycle", "Art. 19, Art. 26", []),
]  # fmt: skip

DEFAULT_CONTROLS = [
    {
        "code": code,
        "name": name,
        "evidence_expected": expected,
        "guidance": "",
        "accepting_role": "governance_board",
        "validity": validity,
        "validity_days": days,
        "applies_when": rule,
        "nist_function": nist,
        "iso42001_area": iso,
        "eu_ai_act_article": article,
        "invalidated_by": invalidated_by,
        "sort_order": (index + 1) * 10,
    }
    for index, (code, name, expected, validity, days, rule, nist, iso, article, invalidated_by) in enumerate(_CATALOG)
]

# Art. 73: days from awareness to report a serious incident, by Art. 3(49) category.
DEFAULT_INCIDENT_REPORT_DAYS = {
    "death": 10,
    "health": 15,
    "critical_infrastructure": 2,
    "widespread_infringement": 2,
    "fundamental_rights": 15,
    "property_environment": 15,
}

# The dates the Act's obligations apply from, as amended in 2026 ("Digital Omnibus"); law that moves,
# so policy data. ``categories``: the EU AI Act categories of the risk assessment it reaches (an empty
# list reaches no assessed category: Annex I systems are classified outside the registry's categories).
DEFAULT_EU_AI_ACT_TIMELINE = [
    {
        "code": "prohibited_practices",
        "title": "Prohibited practices (Art. 5)",
        "applies_from": "2025-02-02",
        "categories": ["prohibited"],
    },
    {
        "code": "transparency",
        "title": "Transparency duties (Art. 50)",
        "applies_from": "2026-08-02",
        "categories": ["transparency", "high_risk"],
    },
    {
        "code": "high_risk_annex_iii",
        "title": "High-risk obligations, Annex III systems (incl. FRIA Art. 27, incident reports Art. 73)",
        "applies_from": "2027-12-02",
        "categories": ["high_risk"],
    },
    {
        "code": "high_risk_annex_i",
        "title": "High-risk obligations, Annex I systems (regulated products)",
        "applies_from": "2028-08-02",
        "categories": [],
    },
]


def default_incident_report_days() -> dict:
    return dict(DEFAULT_INCIDENT_REPORT_DAYS)


def default_eu_ai_act_timeline() -> list:
    return [dict(entry) for entry in DEFAULT_EU_AI_ACT_TIMELINE]


DEFAULT_POLICY = {
    "version": 1,
    "notes": "Default policy v1 of the domain reference.",
    "weights": DEFAULT_WEIGHTS,
    "thresholds": DEFAULT_THRESHOLDS,
    "pattern_floors": DEFAULT_PATTERN_FLOORS,
    "autonomy_floors": DEFAULT_AUTONOMY_FLOORS,
    "eu_ai_act": DEFAULT_EU_AI_ACT,
    "cadences": DEFAULT_CADENCES,
    "incident_report_days": DEFAULT_INCIDENT_REPORT_DAYS,
    "eu_ai_act_timeline": DEFAULT_EU_AI_ACT_TIMELINE,
}
