"""The runtime demo: a gateway credential, a week of decisions (allows and denials) in the log, and one
stopped agent. Runs after governance (``manage.py load_demo``), deterministic and idempotent.

The decisions are real ones: the demo asks the engine, against the snapshot of the demo portfolio,
the questions a gateway would ask, and writes the log through the same buffer and flush.
"""

import random
from datetime import timedelta

from django.utils import timezone

from registry import services as registry_services
from registry.choices import Lifecycle
from registry.models import Agent, Stop, User
from runtime import log, services, snapshot
from runtime.engine import evaluate, parse
from runtime.models import GatewayCredential

SEED = 14
CREDENTIAL_NAME = "Aldermoor edge gateway"
ADMIN_USERNAME = "ada.nkemelu"
OWNER_USERNAME = "olivia.martin"
DECISIONS = 1500
SHADOW_SUBJECTS = (
    "urn:aldermoor:agents:pricing.shadow-bot",
    "arn:aws:bedrock:eu-west-1:000000000000:agent/ops.copilot-x",
)


def _ask(subject, action, resource, environment, **context):
    return parse(
        {
            "subject": {"type": "agent", "id": subject},
            "action": {"name": action},
            "resource": resource,
            "context": {"environment": environment, **context},
        }
    )


def build(stdout) -> None:
    if GatewayCredential.objects.filter(name=CREDENTIAL_NAME).exists():
        stdout.write("runtime: demo credential exists already; skipped.")
        return
    from telemetry.demo import GATEWAY
    from telemetry.models import TelemetrySource

    admin = User.objects.get(username=ADMIN_USERNAME)
    source = TelemetrySource.objects.filter(name=GATEWAY).first()
    if source is None:
        from telemetry import services as telemetry_services

        source, _ = telemetry_services.create_source(actor=admin, name=GATEWAY, kind="gateway", owner=admin)
    credential, raw = services.create_gateway_credential(source, actor=admin, name=CREDENTIAL_NAME)

    # One stopped agent: a production agent of the demo owner, stopped by her with a reason.
    running = Agent.objects.filter(lifecycle=Lifecycle.PRODUCTION).order_by("key")
    victim = running.filter(owner__username=OWNER_USERNAME).first() or running.first()
    if victim is not None and not Stop.objects.in_force().filter(agent=victim).exists():
        registry_services.stop_agent(
            victim,
            actor=victim.owner,
            reason="Quoted refunds above policy to three customers this morning; stopped while we investigate.",
        )

    snapshot.reset()
    snap = snapshot.current()
    rng = random.Random(SEED)  # noqa: S311 (demo data)
    agents = sorted(snap.agents.values(), key=lambda a: a.key)
    candidates = [a for a in agents if a.lifecycle in (Lifecycle.PILOT, Lifecycle.PRODUCTION)] or agents
    now = timezone.now()
    for i in range(DECISIONS):
        at = now - timedelta(minutes=rng.randint(0, 7 * 24 * 60))
        agent = rng.choice(candidates)
        env = "production" if agent.lifecycle == Lifecycle.PRODUCTION and rng.random() < 0.8 else "staging"
        grants = snap.grants_for(agent.id, env)
        roll = rng.random()
        if roll < 0.4 or not grants:
            ask = _ask(agent.key, "run", {"type": "environment", "id": env}, env)
        elif roll < 0.85:
            tool_id = rng.choice(sorted(grants))
            ask = _ask(agent.key, "read", {"type": "tool", "id": snap.tools[tool_id].key}, env)
        elif roll < 0.92:
            tool_id = rng.choice(sorted(grants))
            ask = _ask(agent.key, "execute", {"type": "tool", "id": snap.tools[tool_id].key}, env)
        elif roll < 0.97:
            tool = rng.choice(sorted(snap.tools.values(), key=lambda t: t.key))
            ask = _ask(agent.key, "read", {"type": "tool", "id": tool.key}, env, category="financial")
        else:
            ask = _ask(rng.choice(SHADOW_SUBJECTS), "run", {"type": "environment", "id": env}, env)
        log.record(evaluate(snap, ask, at), ask, credential.pk, source.pk, at)
        if i % 500 == 499:
            log.flush()
    written = log.flush()
    stdout.write(
        f"runtime: gateway credential {credential.prefix}… minted (demo value: {raw}); "
        f"{DECISIONS} decisions logged ({written['denials']} denial rows in the last flush); "
        f"stopped: {victim.key if victim else 'none'}"
    )
