"""Leadership documents benchmark: the board pack (PDF) and the workbook against the dashboard's reads.

Runs on a database holding the demo (``manage.py migrate && manage.py load_demo``), as the demo's
leadership viewer, and prints p50/p95 over ``BENCH_RUNS`` (7) runs of
- ``reports.dashboard()`` alone (the baseline: every figure both documents draw on),
- ``boardpack.render()`` (reads, layout of every page, PDF bytes),
- ``exports.workbook()`` (reads, every sheet, XLSX bytes),
with each one's ratio to the baseline measured in the same run, the pack's page count and both sizes.

Usage:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/agentreg_demo SECRET_KEY=x DEBUG=true \\
        .venv/bin/python bench/documents_bench.py
"""

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.utils import timezone  # noqa: E402
from pypdf import PdfReader  # noqa: E402

from portfolio import boardpack, exports, reports  # noqa: E402
from registry.demo import demo_logins  # noqa: E402
from registry.models import Agent, User  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "7"))


def measure(fn) -> tuple[float, float, object]:
    times, result = [], fn()  # one warm-up run: imports, fonts and the first queries' plans
    for _ in range(RUNS):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, round(0.95 * len(times)) - 1)], result


def main() -> None:
    username = next(u for role, u, _ in demo_logins() if role.startswith("Leadership"))
    scope = reports.scope_for(User.objects.get(username=username))
    flt = reports.PortfolioFilter()
    now = timezone.now()
    base = measure(lambda: reports.dashboard(scope, flt, now))
    pack = measure(lambda: boardpack.render(scope, flt, now).getvalue())
    book = measure(
        lambda: exports.workbook(
            reports.dashboard(scope, flt, now), flt.apply(scope.agents), reports.top_risks(scope, flt)
        ).getvalue()
    )
    pages = len(PdfReader(__import__("io").BytesIO(pack[2])).pages)
    print(f"{Agent.objects.count():,} agents, {RUNS} runs each")
    print(" measure               |   p50 ms |   p95 ms | x dashboard")
    for name, (p50, p95, _) in (("reports.dashboard()", base), ("board pack (PDF)", pack), ("workbook (XLSX)", book)):
        print(f" {name:<21} | {p50:8.1f} | {p95:8.1f} | {p50 / base[0]:11.2f}")
    print(f"board pack: {pages} pages, {len(pack[2]) / 1024:.0f} KB; workbook: {len(book[2]) / 1024:.0f} KB")


if __name__ == "__main__":
    main()
