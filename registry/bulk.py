"""Bulk registration from a CSV or Excel file: the template, reading rows, and checking every row.

Checking reads what the rows refer to in a fixed number of queries (people, units, existing keys),
then validates each row in memory, so a file of thousands of rows takes time in proportion to its
rows. Every error is named by row (as the spreadsheet numbers it: the header is row 1) and column.
"""

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils import timezone

from registry.choices import Lifecycle, UserKind
from registry.models import Agent, BusinessUnit, User

# The template's columns, in order. Required ones are what the short form asks.
COLUMNS = (
    "key",
    "name",
    "owner",
    "business_unit",
    "objective",
    "pattern",
    "autonomy_level",
    "data_classification",
    "description",
    "topology",
    "runs_in_development",
    "runs_in_staging",
    "runs_in_production",
    "external_facing",
    "handles_personal_data",
    "handles_regulated_data",
    "escalation_contact",
)
REQUIRED = ("key", "name", "owner", "business_unit", "objective", "pattern", "autonomy_level", "data_classification")
BOOLEANS = (
    "runs_in_development",
    "runs_in_staging",
    "runs_in_production",
    "external_facing",
    "handles_personal_data",
    "handles_regulated_data",
)
TRUE_WORDS = {"yes", "y", "true", "1", "x"}
FALSE_WORDS = {"no", "n", "false", "0", ""}
MAX_ROWS = 20_000
EXAMPLE = {
    "key": "hr.leave-assistant",
    "name": "Leave assistant",
    "owner": "olivia.martin",
    "business_unit": "hr",
    "objective": "Answers employees' leave questions.",
    "pattern": "employee_enablement",
    "autonomy_level": "2",
    "data_classification": "internal",
    "description": "",
    "topology": "embedded",
    "runs_in_development": "yes",
    "runs_in_staging": "no",
    "runs_in_production": "no",
    "external_facing": "no",
    "handles_personal_data": "yes",
    "handles_regulated_data": "no",
    "escalation_contact": "HR service desk",
}


def template_csv() -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerow(EXAMPLE)
    return out.getvalue()


def template_xlsx() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "agents"
    sheet.append(list(COLUMNS))
    sheet.append([EXAMPLE[c] for c in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def read_rows(name: str, content: bytes) -> list[dict]:
    """The file's rows as {column: text}, from CSV (UTF-8) or Excel (.xlsx, first sheet)."""
    if name.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 (openpyxl raises many types for a broken file)
            raise ValidationError({"file": "This is not a readable Excel (.xlsx) file."}) from exc
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [str(c or "").strip() for c in next(rows, ())]
        data = [
            {header[i]: "" if v is None else str(v).strip() for i, v in enumerate(row) if i < len(header)}
            for row in rows
            if any(v not in (None, "") for v in row)
        ]
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationError({"file": "Save the CSV file as UTF-8."}) from exc
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip() for h in reader.fieldnames or []]
        reader.fieldnames = header
        data = [
            {k: (v or "").strip() for k, v in row.items() if k}
            for row in reader
            if any((v or "").strip() for v in row.values() if isinstance(v, str))
        ]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ValidationError({"file": f"The file lacks the column(s) {', '.join(missing)}; start from the template."})
    if len(data) > MAX_ROWS:
        raise ValidationError({"file": f"At most {MAX_ROWS} rows per file."})
    return data


# Model fields a row does not give (or that are resolved above): not validated per row.
UNCHECKED = [
    f.name for f in Agent._meta.concrete_fields if f.name not in COLUMNS or f.name in ("owner", "business_unit")
]
# What each imported agent's audit entry records: the facts the file gave, and what follows from them.
AUDIT_FACTS = (*COLUMNS, "mode", "lifecycle")


def audit_facts(agent: Agent) -> dict:
    facts = {name: getattr(agent, name) for name in AUDIT_FACTS if name not in ("owner", "business_unit")}
    facts["owner"], facts["business_unit"] = agent.owner_id, agent.business_unit_id
    return facts


@dataclass
class CheckedFile:
    agents: list[Agent] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)  # {"row": n, "column": name, "message": text}


def check_rows(rows: list[dict], *, actor) -> CheckedFile:
    """Build an unsaved agent per row and collect every error by row and column."""
    result = CheckedFile()
    owners = {u.username: u for u in User.objects.filter(username__in={r.get("owner", "") for r in rows})}
    units = {u.slug: u for u in BusinessUnit.objects.for_user(actor, "view").filter(
        slug__in={r.get("business_unit", "") for r in rows})}  # fmt: skip
    keys = [r.get("key", "") for r in rows]
    taken = set(Agent.objects.filter(key__in=keys).values_list("key", flat=True))
    first_row: dict[str, int] = {}
    now = timezone.now()
    for index, row in enumerate(rows):
        number = index + 2  # row 1 is the header

        def fail(column, message, number=number):
            result.errors.append({"row": number, "column": column, "message": message})

        for column in REQUIRED:
            if not row.get(column):
                fail(column, "This column is required.")
        key = row.get("key", "")
        if key in taken:
            fail("key", "An agent with this key is already registered.")
        elif key and key in first_row:
            fail("key", f"Row {first_row[key]} has the same key.")
        first_row.setdefault(key, number)
        owner = owners.get(row.get("owner", ""))
        if row.get("owner") and owner is None:
            fail("owner", f"No account is called {row['owner']}.")
        elif owner is not None and (owner.kind != UserKind.PERSON or not owner.is_active):
            fail("owner", f"{owner.username} cannot own agents: an owner is an active person.")
        unit = units.get(row.get("business_unit", ""))
        if row.get("business_unit") and unit is None:
            fail("business_unit", f"No business unit has the short name {row['business_unit']}.")
        flags = {}
        for column in BOOLEANS:
            word = row.get(column, "").lower()
            if word in TRUE_WORDS:
                flags[column] = True
            elif word in FALSE_WORDS:
                flags[column] = column == "runs_in_development" and column not in row
            else:
                fail(column, "Write yes or no.")
        level = row.get("autonomy_level", "")
        if level and not level.isdigit():
            fail("autonomy_level", "Write a level from 1 to 5.")
            level = ""
        agent = Agent(
            key=key,
            name=row.get("name", ""),
            owner_id=owner.pk if owner else None,
            business_unit_id=unit.pk if unit else None,
            objective=row.get("objective", ""),
            description=row.get("description", ""),
            pattern=row.get("pattern", ""),
            autonomy_level=int(level) if level else None,
            topology=row.get("topology", ""),
            data_classification=row.get("data_classification", ""),
            escalation_contact=row.get("escalation_contact", ""),
            lifecycle=Lifecycle.PROPOSED,
            lifecycle_changed_at=now,
            created_by=actor,
            **flags,
        )
        try:
            # Field rules in memory; the database enforces the constraints and uniqueness on insert.
            agent.full_clean(exclude=UNCHECKED, validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            for column, messages in exc.message_dict.items():
                if column in REQUIRED and not row.get(column):
                    continue  # already said: required
                for message in messages:
                    fail(column if column in COLUMNS else "", message)
        result.agents.append(agent)
    return result
