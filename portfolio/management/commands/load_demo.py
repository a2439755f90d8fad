"""Load the demo portfolio: every layer's ``demo.build(stdout)``, bottom layer first.

Each layer's demo is deterministic and idempotent, so running this twice
changes nothing the second time. Layers that do not exist yet are skipped.
"""

import importlib
import time

from django.core.management.base import BaseCommand

from registry import demo as registry_demo

# Upper layers' demo modules, in the order they run. The registry's lifecycle
# moves into production run after governance's demo, which prepares the
# release gate for them (see registry/demo.py).
UPPER_LAYERS = ("telemetry", "governance")
TOP_LAYERS = ("runtime", "portfolio")


def _optional_demo(app_label: str):
    """The layer's demo module, or None when the layer (or its demo) does not exist yet."""
    try:
        return importlib.import_module(f"{app_label}.demo")
    except ModuleNotFoundError as exc:
        if exc.name in (app_label, f"{app_label}.demo"):
            return None
        raise


class Command(BaseCommand):
    help = "Build the demo enterprise (units, people, tools, 250+ agents and every layer's demo data)."

    def handle(self, *args, **options):
        started = time.monotonic()
        self._step("registry", registry_demo.build)
        self._step("registry MCP servers", registry_demo.build_mcp_servers)
        for label in UPPER_LAYERS:
            self._layer(label)
        self._step("registry lifecycle", registry_demo.advance_to_targets)
        self._step("registration", registry_demo.build_registration)
        telemetry_demo = _optional_demo("telemetry")
        if telemetry_demo is not None:
            # The lifecycle dates were spread over the past: the monitoring deadlines follow them.
            self._step("telemetry deadlines", telemetry_demo.settle_deadlines)
        governance_demo = _optional_demo("governance")
        if governance_demo is not None:
            # Time passes after release: some production evidence runs out.
            self._step("governance after release", governance_demo.lapse_some_evidence)
            # Keeping ownership true: a campaign in progress, a deprovisioned owner, dormant agents.
            self._step("owner continuity", governance_demo.continuity)
            # A serious incident on the clock, a FRIA waiting for the board, a technical file to download.
            self._step("EU AI Act in operation", governance_demo.eu_ai_act_in_operation)
            self._step("governance drift and budgets", governance_demo.drift_and_budgets)
        for label in TOP_LAYERS:
            self._layer(label)
        if governance_demo is not None:
            # After the checks ran once: a delivery that gave up, for the administrators' overview.
            self._step("governance operations", governance_demo.operations_examples)
        self.stdout.write(self.style.SUCCESS(f"Demo ready in {time.monotonic() - started:.1f}s."))

    def _layer(self, label: str) -> None:
        module = _optional_demo(label)
        if module is None:
            self.stdout.write(f"{label}: no demo module yet; skipped.")
            return
        self._step(label, module.build)

    def _step(self, name: str, func) -> None:
        started = time.monotonic()
        func(self.stdout)
        self.stdout.write(f"{name}: done in {time.monotonic() - started:.1f}s")
