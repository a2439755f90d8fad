from django.apps import AppConfig

GOVERNED_MODELS = ("riskassessment", "evidence", "review", "reviewcondition", "release", "incident", "waiver")


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self):
        from governance import choices, gate, listeners, panels, querysets
        from registry import hooks
        from registry.roles import ROLE_PERMISSIONS, Role
        from registry.templatetags.registry_tags import EXTRA_BADGES

        # The release gate and the reactions to agent changes, inside the registry's transactions.
        if gate.transition_guard not in hooks.transition_guards:
            hooks.transition_guards.append(gate.transition_guard)
            hooks.transition_listeners.append(listeners.on_transition)
            hooks.agent_change_listeners.append(listeners.on_agent_changed)
            hooks.agent_detail_panels.append(panels.compliance_panel)
            hooks.agent_detail_panels.append(panels.drift_panel)
            hooks.agent_detail_actions.append(panels.governance_actions)
            hooks.mcp_server_listeners.append(listeners.on_mcp_server_event)
        # Administrators land on the operations overview, board members on their queue.
        from governance import views as governance_views

        for order, page in ((10, governance_views.landing_for_admin), (20, governance_views.landing_for_board)):
            if (order, page) not in hooks.landing_pages:
                hooks.landing_pages.append((order, page))
        hooks.audit_event_labels.update(dict(choices.GovernanceEvent.choices))
        # Evidence is narrower than its agent: its audit entries follow the evidence's own rule.
        hooks.audit_target_scopes["governance.evidence"] = querysets.evidence_audit_scope

        views = [f"governance.view_{m}" for m in (*GOVERNED_MODELS, "riskpolicy", "control")]
        ROLE_PERMISSIONS[Role.BOARD].extend(
            [
                *views,
                "governance.change_riskassessment",
                "governance.change_evidence",
                "governance.change_review",
                "governance.change_reviewcondition",
                "governance.add_incident",
                "governance.change_incident",
                "governance.add_waiver",
                "governance.change_waiver",
            ]
        )
        ROLE_PERMISSIONS[Role.LEADERSHIP].extend(views)
        ROLE_PERMISSIONS[Role.PLATFORM_ADMIN].extend(
            [*views, "governance.add_riskpolicy", "governance.change_riskpolicy", "governance.change_control"]
        )

        self._ready_findings()
        self._ready_continuity()

        EXTRA_BADGES.update(
            {
                "control_state": (choices.ControlState, choices.CONTROL_STATE_COLORS),
                "evidence_state": (choices.ControlState, choices.EVIDENCE_STATE_COLORS),
                "assessment_status": (choices.AssessmentStatus, choices.ASSESSMENT_STATUS_COLORS),
                "review_status": (choices.ReviewStatus, choices.REVIEW_STATUS_COLORS),
                "decision": (choices.Decision, choices.DECISION_COLORS),
                "incident_severity": (choices.Severity, choices.SEVERITY_COLORS),
                "incident_status": (choices.IncidentStatus, choices.INCIDENT_STATUS_COLORS),
                "eu_ai_act": (choices.EUAIActCategory, choices.EU_AI_ACT_COLORS),
                "serious_incident": (choices.SeriousIncidentCategory, choices.SERIOUS_INCIDENT_COLORS),
                "report_clock": (choices.ReportClockStage, choices.REPORT_CLOCK_COLORS),
                "authority_report": (choices.AuthorityReportKind, choices.AUTHORITY_REPORT_COLORS),
            }
        )

    def _ready_continuity(self):
        """Owner continuity: deprovisioned owners' findings open at once."""
        from governance import continuity, continuity_views
        from governance.choices import ATTESTATION_ANSWER_COLORS, AttestationAnswer
        from registry import hooks as registry_hooks
        from registry.roles import ROLE_PERMISSIONS, Role
        from registry.templatetags.registry_tags import EXTRA_BADGES

        if continuity.on_owner_deprovisioned not in registry_hooks.owner_deprovisioned_listeners:
            registry_hooks.owner_deprovisioned_listeners.append(continuity.on_owner_deprovisioned)
            registry_hooks.agent_detail_actions.append(continuity_views.dormant_action)
        ROLE_PERMISSIONS[Role.BOARD].extend(
            ["governance.view_attestationcampaign", "governance.add_attestationcampaign"]
        )
        ROLE_PERMISSIONS[Role.LEADERSHIP].append("governance.view_attestationcampaign")
        ROLE_PERMISSIONS[Role.PLATFORM_ADMIN].append("governance.view_attestationcampaign")
        EXTRA_BADGES["attestation_answer"] = (AttestationAnswer, ATTESTATION_ANSWER_COLORS)

    def _ready_findings(self):
        """Findings and checks: telemetry reads the monitoring windows from the policy in force,
        linking an identity resolves its shadow-agent finding, and the roles' permissions."""
        from governance import choices, findings_links
        from registry import hooks as registry_hooks
        from registry.roles import ROLE_PERMISSIONS, Role
        from registry.templatetags.registry_tags import EXTRA_BADGES
        from telemetry import hooks as telemetry_hooks

        if findings_links.monitoring_windows not in telemetry_hooks.monitoring_window_provider:
            telemetry_hooks.monitoring_window_provider.append(findings_links.monitoring_windows)
            telemetry_hooks.identity_linked_listeners.append(findings_links.on_identity_linked)
            registry_hooks.agent_detail_panels.append(findings_links.findings_panel)
        from governance import notifications

        if notifications.on_stop not in registry_hooks.stop_listeners:
            # The signed agent.stopped webhook goes out with every stop.
            registry_hooks.stop_listeners.append(notifications.on_stop)
        ROLE_PERMISSIONS[Role.BOARD].extend(
            ["governance.view_finding", "governance.change_finding", "governance.view_checkrun"]
        )
        ROLE_PERMISSIONS[Role.LEADERSHIP].extend(["governance.view_finding", "governance.view_checkrun"])
        ROLE_PERMISSIONS[Role.PLATFORM_ADMIN].extend(
            [
                "governance.view_finding",
                "governance.view_checkrun",
                "governance.add_checkrun",
                "governance.view_webhookendpoint",
                "governance.add_webhookendpoint",
                "governance.change_webhookendpoint",
                "governance.view_webhookdelivery",
            ]
        )
        EXTRA_BADGES.update(
            {
                "finding_kind": (choices.FindingKind, choices.FINDING_KIND_COLORS),
                "finding_severity": (choices.Severity, choices.SEVERITY_COLORS),
                "finding_state": (choices.FindingState, choices.FINDING_STATE_COLORS),
                "check_run_status": (choices.CheckRunStatus, choices.CHECK_RUN_STATUS_COLORS),
                "delivery_status": (choices.DeliveryStatus, choices.DELIVERY_STATUS_COLORS),
            }
        )
