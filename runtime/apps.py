from django.apps import AppConfig


class RuntimeConfig(AppConfig):
    name = "runtime"
    verbose_name = "Runtime control plane"

    def ready(self):
        from governance import hooks as governance_hooks
        from registry import hooks as registry_hooks
        from registry.roles import ROLE_PERMISSIONS, Role
        from registry.templatetags.registry_tags import EXTRA_BADGES
        from runtime import checks, choices, panels, versioning

        versioning.connect_signals()
        if versioning.on_stop not in registry_hooks.stop_listeners:
            registry_hooks.stop_listeners.append(versioning.on_stop)
            registry_hooks.agent_created_listeners.append(versioning.on_agent_created)
            registry_hooks.agent_detail_panels.append(panels.decisions_panel)
            # Agents the decision API keeps refusing for ungranted tools or approvals feed findings.
            governance_hooks.check_providers.append((checks.KIND, checks.ungranted_tool_use))
        ROLE_PERMISSIONS[Role.BOARD].extend(["runtime.view_gatewaycredential", "runtime.view_denialrecord"])
        ROLE_PERMISSIONS[Role.PLATFORM_ADMIN].extend(
            [
                "runtime.view_gatewaycredential",
                "runtime.add_gatewaycredential",
                "runtime.change_gatewaycredential",
                "runtime.view_denialrecord",
                "runtime.view_runtimepolicy",
                "runtime.change_runtimepolicy",
            ]
        )
        EXTRA_BADGES.update({"reason_code": (choices.ReasonCode, choices.REASON_CODE_COLORS)})
