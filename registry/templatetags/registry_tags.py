"""Template helpers: coloured badges for the vocabularies and readable audit changes."""

from django import template
from django.utils.html import format_html

from registry import choices

register = template.Library()

_BADGES = {
    "lifecycle": (choices.Lifecycle, choices.LIFECYCLE_COLORS),
    "risk_tier": (choices.RiskTier, choices.RISK_TIER_COLORS),
    "pattern": (choices.Pattern, choices.PATTERN_COLORS),
    "data_classification": (choices.DataClassification, choices.DATA_CLASSIFICATION_COLORS),
    "mcp_scan": (choices.McpScanStatus, choices.MCP_SCAN_STATUS_COLORS),
    "mcp_approval": (choices.McpApproval, choices.MCP_APPROVAL_COLORS),
    "mcp_change": (choices.McpToolChange, choices.MCP_TOOL_CHANGE_COLORS),
    "card_signature": (choices.CardSignature, choices.CARD_SIGNATURE_COLORS),
    "stop_scope": (choices.StopScope, choices.STOP_SCOPE_COLORS),
}

# Extra vocabularies registered by upper layers: name -> (enum class, colour map).
EXTRA_BADGES: dict = {}


@register.simple_tag
def badge(kind: str, value):
    """<span class="badge colour">Label</span> for a value of a known vocabulary."""
    if value in (None, ""):
        return format_html('<span class="badge gray">{}</span>', "not assessed" if kind == "risk_tier" else "—")
    enum, colors = _BADGES.get(kind) or EXTRA_BADGES.get(kind) or (None, {})
    label = value
    if enum is not None:
        try:
            label = enum(value).label
        except ValueError:
            label = value
    return format_html('<span class="badge {}">{}</span>', colors.get(value, "gray"), label)


EMPTY = (None, "", [], {})


@register.filter
def audit_changes(event):
    """[(field, before, after)] for an audit entry, with underscores turned into words.

    Fields empty on both sides (most of a freshly registered agent) say nothing and are left out.
    """
    before = event.before or {}
    after = event.after or {}
    rows = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) in EMPTY and after.get(key) in EMPTY:
            continue
        rows.append((key.replace("_", " "), before.get(key), after.get(key)))
    return rows


@register.simple_tag(takes_context=True)
def query_with(context, **kwargs):
    """The current query string with some parameters replaced (for sort links and pagination)."""
    query = context["request"].GET.copy()
    for key, value in kwargs.items():
        query[key] = value
    query.pop("page", None) if "page" not in kwargs else None
    return query.urlencode()
