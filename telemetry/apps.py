from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "telemetry"
    verbose_name = "Telemetry"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from registry import hooks as registry_hooks
        from registry.roles import ROLE_PERMISSIONS, Role
        from registry.templatetags.registry_tags import EXTRA_BADGES
        from telemetry import choices, panels, services
        from telemetry.models import IngestToken, TelemetrySource

        # A newly registered agent claims what telemetry already saw under its key;
        # a lifecycle or risk tier change moves its monitoring deadline at once.
        registry_hooks.agent_created_listeners.append(services.claim_identities_for_new_agent)
        registry_hooks.transition_listeners.append(services.refresh_agent_deadline)
        registry_hooks.risk_tier_listeners.append(services.refresh_agent_deadline)
        registry_hooks.agent_change_listeners.append(panels.on_agent_changed)
        registry_hooks.agent_detail_panels.append(panels.agent_telemetry_panel)
        registry_hooks.agent_detail_panels.append(panels.agent_tools_panel)
        registry_hooks.agent_detail_panels.append(panels.agent_evaluations_panel)

        # A worker keeps usable ingest tokens for a few seconds; any change to one, or to its source,
        # made in this process drops them at once (other workers: within TELEMETRY_TOKEN_CACHE_SECONDS).
        for model in (IngestToken, TelemetrySource):
            post_save.connect(
                services.forget_ingest_tokens, sender=model, dispatch_uid=f"forget-tokens-save-{model.__name__}"
            )
            post_delete.connect(
                services.forget_ingest_tokens, sender=model, dispatch_uid=f"forget-tokens-delete-{model.__name__}"
            )

        EXTRA_BADGES.update(
            {
                "source_kind": (choices.SourceKind, choices.SOURCE_KIND_COLORS),
                "event_kind": (choices.EventKind, choices.EVENT_KIND_COLORS),
                "monitoring_status": (choices.MonitoringStatus, choices.MONITORING_STATUS_COLORS),
                "telemetry_environment": (choices.TelemetryEnvironment, choices.TELEMETRY_ENVIRONMENT_COLORS),
                "rejection_reason": (choices.RejectionReason, choices.REJECTION_REASON_COLORS),
            }
        )

        models = ["telemetrysource", "ingesttoken", "telemetryevent", "sighting", "identityalias"]
        models += ["externalidentity", "monitoringstate", "dailyusage", "dailytoolusage", "dailyevaluation", "tooluse"]
        ROLE_PERMISSIONS[Role.PLATFORM_ADMIN].extend(
            f"telemetry.{verb}_{model}" for model in models for verb in ("view", "add", "change", "delete")
        )
        ROLE_PERMISSIONS[Role.BOARD].extend(
            [
                "telemetry.view_telemetrysource",
                "telemetry.view_sighting",
                "telemetry.view_identityalias",
                "telemetry.add_identityalias",
                "telemetry.view_externalidentity",
                "telemetry.add_externalidentity",
                "telemetry.change_externalidentity",
                "telemetry.view_monitoringstate",
                "telemetry.view_dailyusage",
                "telemetry.view_dailytoolusage",
                "telemetry.view_dailyevaluation",
            ]
        )
        ROLE_PERMISSIONS[Role.LEADERSHIP].extend(
            [
                "telemetry.view_monitoringstate",
                "telemetry.view_dailyusage",
                "telemetry.view_dailytoolusage",
                "telemetry.view_dailyevaluation",
            ]
        )
