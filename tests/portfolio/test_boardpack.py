"""The board pack read back as a board member's printer would see it.

Each page is rendered with PDFium (pypdfium2): every character's box must sit
inside the printable area (and, left to right, inside the text frame), no two
characters may overlap, and the paper's unprintable edge must stay blank.
The text is read with pypdf and PDFium for the footer, the headings and the
names.
"""

import ctypes
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
import time_machine
from pypdf import PdfReader

from portfolio import boardpack
from registry.models import Agent, BusinessUnit, User
from tests.factories import AgentFactory, BusinessUnitFactory

MOMENT = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)
LONG_UNIT = "Global Customer Experience and Omnichannel Service Operations Excellence"
LONG_AGENT = "Cross-border reimbursement reconciliation and dispute resolution assistant for enterprise accounts"


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def crowded(world):
    """The fixture portfolio plus what overflowed before: a long unit name, long agent names, an owner
    with a long full name, and enough agents and findings for tables to run over pages."""
    unit = BusinessUnitFactory(name=LONG_UNIT, slug="cx", parent=world.group)
    person = User.objects.get(pk=world.owner.pk)
    person.first_name, person.last_name = "Olivia", "Martin-Okonkwo"
    person.save()
    from governance.models import Finding

    for i in range(24):
        agent = AgentFactory(
            key=f"long{i}",
            name=f"{LONG_AGENT} {i}",
            business_unit=unit,
            owner=person,
            pattern="external_engagement",
            risk_tier="critical" if i % 2 else "high",
            lifecycle="production",
            production_since=MOMENT - timedelta(days=40),
            eligible_users=1000 + i,
            active_users=100 + i,
        )
        Finding.objects.create(kind="control_gap", severity="high", agent=agent, summary="gap", opened_at=MOMENT)
    from telemetry.models import DailyUsage

    for day in (date(2026, 9, 2), date(2026, 10, 5), date(2026, 11, 3), date(2026, 11, 17)):
        DailyUsage.objects.create(
            agent=world.a1, day=day, environment="production", invocations=1200, cost=Decimal("1234.5")
        )
    return world


@pytest.fixture
def pack(crowded, leadership, client_for) -> bytes:
    with time_machine.travel(MOMENT, tick=False):
        response = client_for(leadership).get("/portfolio/export/board-pack.pdf")
    assert response.status_code == 200
    return _body(response)


def _chars(pdf: bytes):
    """(page number, character, (left, bottom, right, top)) for every drawn character, in points."""
    doc = pdfium.PdfDocument(pdf)
    for number, page in enumerate(doc, start=1):
        text = page.get_textpage()
        for i in range(text.count_chars()):
            char = text.get_text_range(i, 1)
            if char.strip():
                yield number, char, text.get_charbox(i)


def _page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def _flat(text: str) -> str:
    """``text`` with every run of white space (a wrapped line included) as one space."""
    return " ".join(text.split())


def test_no_text_is_drawn_outside_the_printable_area(pack):
    # given the frame's edges left and right, and the printable area top and bottom
    left, right = boardpack.MARGIN_X - 0.5, boardpack.PAGE_W - boardpack.MARGIN_X + 0.5
    bottom, top = boardpack.PRINTABLE_INSET, boardpack.PAGE_H - boardpack.PRINTABLE_INSET
    # when every character's box is read back
    outside = [
        (page, char, tuple(round(v) for v in box))
        for page, char, box in _chars(pack)
        if box[0] < left or box[2] > right or box[1] < bottom or box[3] > top
    ]
    # then none lies outside
    assert outside == []


def test_the_unprintable_edge_of_every_page_stays_blank(pack):
    # given each page rendered at 72 dpi, one pixel per point
    doc = pdfium.PdfDocument(pack)
    inset = int(boardpack.PRINTABLE_INSET)
    assert len(doc) >= 4
    for number, page in enumerate(doc, start=1):
        image = page.render(scale=1).to_pil().convert("L")
        width, height = image.size
        # when the band between the paper's edge and the printable area is cropped out
        bands = [
            image.crop((0, 0, width, inset)),
            image.crop((0, height - inset, width, height)),
            image.crop((0, 0, inset, height)),
            image.crop((width - inset, 0, width, height)),
        ]
        # then nothing was drawn there: every pixel is white
        assert all(band.getextrema()[0] >= 250 for band in bands), f"page {number} draws into the edge"


def test_no_two_characters_overlap(pack):
    # when characters are bucketed by page and position, and each pair nearby is compared
    by_cell: dict = {}
    overlaps = []
    for page, char, (x0, y0, x1, y1) in _chars(pack):
        box = (x0 + 0.3, y0 + 0.3, x1 - 0.3, y1 - 0.3)  # a hair's tolerance for glyphs that touch
        cells = {(page, int(x // 40), int(y // 40)) for x in (box[0], box[2]) for y in (box[1], box[3])}
        for cell in cells:
            for other_char, other in by_cell.get(cell, []):
                if box[0] < other[2] and other[0] < box[2] and box[1] < other[3] and other[1] < box[3]:
                    overlaps.append((page, char, other_char, tuple(round(v) for v in box)))
            by_cell.setdefault(cell, []).append((char, box))
    # then none overlaps another (no header cell runs into the next, no label into a bar value)
    assert overlaps == []


def test_all_text_is_large_and_dark_enough_to_read_in_print(pack):
    # given every character with its size and colour, as PDFium reads them
    doc = pdfium.PdfDocument(pack)
    small, pale, white = set(), set(), 0
    for page in doc:
        textpage = page.get_textpage()
        for i in range(textpage.count_chars()):
            char = textpage.get_text_range(i, 1)
            if not char.strip():
                continue
            if pdfium.raw.FPDFText_GetFontSize(textpage.raw, i) < 7:
                small.add(char)
            r, g, b, a = (ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint())
            pdfium.raw.FPDFText_GetFillColor(textpage.raw, i, r, g, b, a)
            luminance = (0.299 * r.value + 0.587 * g.value + 0.114 * b.value) / 255
            # white text only ever sits on a coloured bar; anything else must be dark on the white paper
            if 0.5 < luminance < 0.99:
                pale.add(char)
            white += luminance >= 0.99
    # then nothing is smaller than 7 pt, and no text is drawn in a pale colour (legends, values, labels)
    assert small == set()
    assert pale == set()
    assert white > 0  # the colours are really read: segment values on the red bars are white


def test_charts_carry_their_values(pack):
    text = _flat("\n".join(_page_texts(pack)))
    # the lifecycle funnel prints each state's count beside its bar, the pattern chart each total
    assert "Production 27" in text
    assert "External engagement 12 13 25" in text
    # the legend names each tier
    assert "Low Medium High Critical Not assessed" in text


def test_every_page_has_a_footer_with_classification_date_and_page_number(pack, settings):
    texts = _page_texts(pack)
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {len(texts)}" in text
        assert "Confidential: board and leadership only · 18 November 2026" in text


def test_the_classification_comes_from_the_setting(crowded, leadership, client_for, settings):
    settings.BOARD_PACK_CLASSIFICATION = "Internal use only"
    pdf = _body(client_for(leadership).get("/portfolio/export/board-pack.pdf"))
    assert all("Internal use only" in text for text in _page_texts(pdf))


def test_a_one_page_summary_comes_first(pack):
    texts = _page_texts(pack)
    first = _flat(texts[0])
    # then the first page holds the title, the key figures and the sentences in brief
    assert "Agent portfolio: board pack" in first
    assert "Summary" in first
    assert "In brief" in first
    assert "Production agents fully compliant" in first
    gone = User.objects.get(username="gone").get_full_name()
    assert f"Highest risk: A6 (critical risk, Finance, 1 open finding), owned by {gone}." in first
    # and nothing else: the sections start on the second page
    assert "Figure Value Note" not in first
    assert _flat(texts[1]).startswith("Headline figures Figure Value Note")


def test_the_pack_has_the_adoption_cost_and_outcome_sections_with_their_figures(pack):
    text = "\n".join(_page_texts(pack))
    flat = _flat(text)
    for heading in ("Adoption", "Cost", "Outcomes", "Composition and lifecycle", "Top risks", "Maturity traps"):
        assert f"\n{heading}" in text
    # adoption: 350 eligible users of the fixture plus 24 long agents (1,000..1,023 eligible, 100..123 active)
    eligible = 350 + sum(1000 + i for i in range(24))
    active = 90 + sum(100 + i for i in range(24))
    assert f"{active:,} of {eligible:,} eligible users are active" in flat
    # cost: the currency on the chart and in the table, the months in progress marked partial
    assert "Cost (EUR)" in text
    assert "€1,235" in text  # September's one day, a column's value label
    assert "€2,469" in text  # November's two days
    assert "November 2026 €2,469 2,400 0 partial" in flat
    assert "October 2026 €1,235 1,200 0 whole" in flat
    # outcomes: the buckets with their values, and the lagging agents
    assert "Target met" in text
    assert "Furthest from their target" in text


def test_owners_are_named_in_full_and_long_names_wrap_whole(pack):
    text = " ".join(" ".join(_page_texts(pack)).split())
    assert "Olivia Martin-Okonkwo" in text
    assert " olivia " not in f" {text} "
    # the long names arrive in full, every word of them (wrapped, not cut)
    assert all(word in text for word in LONG_UNIT.split())
    assert "dispute resolution assistant for enterprise accounts 23" in text.replace("- ", "-")


@pytest.mark.parametrize(
    "selection",
    [{}, {"business_unit": "hr"}, {"business_unit": "cx"}, {"pattern": "external_engagement"}, {"period": "52w"}],
    ids=["organisation", "hr", "long-unit", "one-pattern", "a-year"],
)
def test_no_heading_is_left_alone_at_the_bottom_of_a_page(crowded, leadership, client_for, selection):
    # given the pack of several selections, each laid out differently
    with time_machine.travel(MOMENT, tick=False):
        pack = _body(client_for(leadership).get("/portfolio/export/board-pack.pdf", selection))
    headings = (
        "Headline figures",
        "Composition and lifecycle",
        "Adoption",
        "Cost",
        "Outcomes",
        "Top risks",
        "Overdue reviews",
        "Maturity",
        "Maturity traps",
        "Lifecycle funnel",
        "Furthest from their target",
    )
    footer_top = boardpack.FOOTER_Y + 12
    doc = pdfium.PdfDocument(pack)
    for number, page in enumerate(doc, start=1):
        textpage = page.get_textpage()
        # lines of text on this page: (baseline, text), top to bottom, without the footer
        lines: dict[int, str] = {}
        for i in range(textpage.count_chars()):
            x, y = ctypes.c_double(), ctypes.c_double()
            pdfium.raw.FPDFText_GetCharOrigin(textpage.raw, i, x, y)  # on the baseline, descenders or not
            if y.value > footer_top:
                key = round(y.value)
                lines[key] = lines.get(key, "") + textpage.get_text_range(i, 1)
        ordered = [t.strip() for _, t in sorted(lines.items(), reverse=True) if t.strip()]
        last = ordered[-1]
        # then the page's last line is never a heading
        assert last not in headings, f"page {number} ends with the heading {last!r}"


def test_the_metadata_has_the_real_creation_date_and_a_title(pack):
    info = PdfReader(io.BytesIO(pack)).metadata
    assert info.creation_date == MOMENT
    assert info.title == "Agent portfolio board pack: Whole organisation · last 12 weeks"
    assert info.author == "Agent Registry"


def test_an_empty_selection_still_gives_a_readable_pack(world, leadership, client_for):
    # given a unit without agents
    empty = BusinessUnitFactory(name="Empty Unit", slug="empty", parent=world.group)
    assert not Agent.objects.filter(business_unit=empty).exists()
    # when its board pack is asked for
    pdf = _body(client_for(leadership).get("/portfolio/export/board-pack.pdf", {"business_unit": "empty"}))
    # then it says so in words, with its footer
    text = "\n".join(_page_texts(pdf))
    assert "No agents match this selection." in text
    assert "No assessed live agents in this selection." in text
    assert "Page 1 of" in text
    assert BusinessUnit.objects.filter(slug="empty").exists()
