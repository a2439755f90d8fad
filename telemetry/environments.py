"""Reading the environment a report names: nothing is refused for its label.

A label maps to development, staging or production through the source's own
alias table, then the default one (``DEFAULT_ENVIRONMENT_ALIASES``); an entry
ending in ``*`` matches every label it starts. A missing label files the report
under the source's default environment (``unspecified`` unless set); a label
neither table knows is kept as sent and counts as ``unspecified``. For severity
and monitoring, unspecified reads as production (``LIVE_ENVIRONMENTS``).
"""

from dataclasses import dataclass

from telemetry.choices import DEFAULT_ENVIRONMENT_ALIASES, TelemetryEnvironment

LABEL_MAX_LENGTH = 64
MAX_SOURCE_ALIASES = 200


@dataclass(frozen=True, slots=True)
class EnvironmentTable:
    """One source's way of reading labels: exact labels, prefixes (longest first), the default."""

    exact: dict
    prefixes: tuple
    default: str

    def resolve(self, value) -> tuple[str, str]:
        """(environment, raw label as sent) for a label, or for None / a non-string."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return self.default, ""
        label = str(value).replace("\x00", "").strip()[:LABEL_MAX_LENGTH]
        key = label.lower()
        environment = self.exact.get(key)
        if environment is None:
            for prefix, mapped in self.prefixes:
                if key.startswith(prefix):
                    environment = mapped
                    break
        return environment or TelemetryEnvironment.UNSPECIFIED, label


def _split(aliases: dict) -> tuple[dict, list]:
    exact, prefixes = {}, []
    for label, environment in aliases.items():
        key = label.strip().lower()
        if key.endswith("*"):
            prefixes.append((key[:-1], environment))
        else:
            exact[key] = environment
    return exact, prefixes


_DEFAULT_EXACT, _DEFAULT_PREFIXES = _split(DEFAULT_ENVIRONMENT_ALIASES)
_cache: dict = {}


def table_for(source) -> EnvironmentTable:
    """The table of a source (anything with ``default_environment`` and ``environment_aliases``).
    Built once per distinct configuration and process: ingest calls it on every request."""
    aliases = getattr(source, "environment_aliases", None) or {}
    default = getattr(source, "default_environment", None) or TelemetryEnvironment.UNSPECIFIED
    cache_key = (default, tuple(sorted(aliases.items())))
    table = _cache.get(cache_key)
    if table is None:
        own_exact, own_prefixes = _split(aliases)
        # The source's entries first, then the defaults; the longest prefix wins within each.
        prefixes = sorted(own_prefixes, key=lambda p: -len(p[0])) + sorted(_DEFAULT_PREFIXES, key=lambda p: -len(p[0]))
        table = EnvironmentTable({**_DEFAULT_EXACT, **own_exact}, tuple(prefixes), default)
        if len(_cache) > 1000:
            _cache.clear()
        _cache[cache_key] = table
    return table


DEFAULT_TABLE = EnvironmentTable(
    _DEFAULT_EXACT, tuple(sorted(_DEFAULT_PREFIXES, key=lambda p: -len(p[0]))), "unspecified"
)


def alias_errors(aliases) -> list[str]:
    """What is wrong with a source's alias table (empty when it is fine)."""
    if not isinstance(aliases, dict):
        return ["Give the aliases as an object of label to environment."]
    errors = []
    if len(aliases) > MAX_SOURCE_ALIASES:
        errors.append(f"At most {MAX_SOURCE_ALIASES} aliases per source.")
    for label, environment in aliases.items():
        if not isinstance(label, str) or not label.strip() or label.strip() == "*":
            errors.append("Each alias needs a label (a prefix may end in *).")
        elif len(label.strip()) > LABEL_MAX_LENGTH:
            errors.append(f"{label[:20]}…: labels are at most {LABEL_MAX_LENGTH} characters.")
        elif label != label.strip().lower():
            errors.append(f"{label!r}: write labels in lower case without surrounding spaces.")
        if environment not in TelemetryEnvironment.values:
            errors.append(f"{label!r} maps to {environment!r}; use one of {', '.join(TelemetryEnvironment.values)}.")
    return errors


def default_aliases() -> dict:
    return dict(DEFAULT_ENVIRONMENT_ALIASES)
