"""The portfolio's vocabulary: maturity dimensions and levels, with badge colours."""

from django.db import models


class Dimension(models.TextChoices):
    STRATEGY = "strategy", "Strategy"
    PROCESS = "process", "Process"
    GOVERNANCE = "governance", "Governance"
    TECHNOLOGY = "technology", "Technology"
    ADOPTION = "adoption", "Adoption"


DIMENSION_HELP = {
    Dimension.STRATEGY: "AI strategy and deliberate investment",
    Dimension.PROCESS: "AI built into business processes, with outcomes measured",
    Dimension.GOVERNANCE: "Risk, compliance and responsible-AI management",
    Dimension.TECHNOLOGY: "Platforms, architecture and data quality",
    Dimension.ADOPTION: "Enablement, change management and culture",
}

# The order dimensions are shown in everywhere (tables, heat map columns, exports).
DIMENSIONS: tuple[str, ...] = tuple(Dimension.values)


class MaturityLevel(models.IntegerChoices):
    INITIAL = 1, "1 · Initial"
    DEVELOPING = 2, "2 · Developing"
    DEFINED = 3, "3 · Defined"
    MANAGED = 4, "4 · Managed"
    OPTIMISING = 5, "5 · Optimising"


MATURITY_LEVEL_COLORS = {
    1: "red",
    2: "orange",
    3: "yellow",
    4: "teal",
    5: "green",
}

# Fill colours of the heat map cells, lightest for level 1 (presentation attributes, not CSS).
MATURITY_FILLS = {
    1: "#fde2e1",
    2: "#fbd3a5",
    3: "#f6e58d",
    4: "#9ed9c9",
    5: "#4fb286",
}
