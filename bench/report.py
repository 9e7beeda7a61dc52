"""Every figure of `make bench` in one table, with its target and whether it
was met: read from the newest result of each benchmark in bench/results/
(written by bench/http.py, bench/audit.py, bench/engine.py, bench/pdf.py
and, when run, bench/journey.py). A benchmark that has not written a
result today is shown as not run.

Run with `.venv/bin/python -m bench.report`; `make bench` ends with it.
"""

import json
import sys
from datetime import date
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write_result(name, figures):
    """Store a benchmark's figures as bench/results/<name>-<date>.json."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{date.today().isoformat()}.json"
    path.write_text(json.dumps(figures, indent=2))
    return path


def newest(name):
    """The newest result of benchmark `name`, or None."""
    paths = sorted(RESULTS.glob(f"{name}-[0-9]*.json"))
    return json.loads(paths[-1].read_text()) if paths else None


def rows():
    """(measure, value, target, met) for every figure found."""
    http = newest("http")
    if http:
        from bench.http import FLOOR, TAIL_TARGET, TARGETS

        pages = http["pages"]
        floor = pages.get(f"floor: {FLOOR}", {})
        yield (f"floor {FLOOR}: req/s, p50 ms", f"{floor.get('rps', 0):.1f}, {floor.get('p50_ms', 0):.1f}", "", None)
        for name, target in TARGETS.items():
            page = pages.get(name)
            if page:
                yield (f"{name} ÷ floor", f"{page['ratio']:.2f}", f">= {target}", page["ratio"] >= target)
        for name in TARGETS:
            page = pages.get(name)
            if page and "tail" in page:
                yield (f"tail {name}: p99/p50 ÷ floor's", f"{page['tail']:.2f}", f"<= {TAIL_TARGET}",
                       page["tail"] <= TAIL_TARGET)
        for connections, results in (http.get("by_connections") or {}).items():
            if int(connections) != http.get("connections", 4):
                yield from reported_ratios(results, f"at {connections} connections")
        for name, growth in (http.get("growth") or {}).items():
            yield (f"p50 100k ÷ 1k: {name}", f"{growth['ratio']:.2f}", "<= 1.3", growth["ratio"] <= 1.3)
    sqlite = newest("http-sqlite")
    if sqlite:
        for connections, results in sqlite["by_connections"].items():
            yield from reported_ratios(results, f"SQLite, {connections} connections")
    audit = newest("audit")
    if audit:
        value = audit["ratios"]["floor"]
        yield ("audited page 1→4 workers scaling ÷ floor's", f"{value:.2f}", ">= 0.8", value >= 0.8)
    for name, label in (("engine", "engine ÷ JSON round trip"), ("pdf", "PDF render ÷ bare WeasyPrint")):
        result = newest(name)
        if result:
            yield (label, f"{result['ratio']:.2f}", f"<= {result['target']:g}", result["ratio"] <= result["target"])
    journey = newest("journey")
    if journey:
        yield ("journey: errors", str(journey["errors"]), "0", journey["errors"] == 0)
        yield ("journey: every step's p95 <= 4 × p50", "yes" if journey["tail_ok"] else "no", "yes", journey["tail_ok"])
        yield ("journey: screenings a minute", f"{journey['per_minute']:.1f}", "", None)


def reported_ratios(results, where):
    """Each page's ratio to the floor measured beside it, reported without a
    target: the targets are judged on PostgreSQL at the bench's concurrency."""
    from bench.http import FLOOR, TARGETS

    floor = results.get(f"floor: {FLOOR}", {})
    yield (f"floor, {where}: req/s, p50 ms", f"{floor.get('rps', 0):.1f}, {floor.get('p50_ms', 0):.1f}", "", None)
    for name in TARGETS:
        if page := results.get(name):
            yield (f"{name} ÷ floor, {where}", f"{page['ratio']:.2f}", "", None)


def main():
    table = list(rows())
    if not table:
        print("no results in bench/results/: run make bench")
        return 1
    print(f"{'measure':58} {'value':>14} {'target':>8} result")
    for measure, value, target, met in table:
        print(f"{measure:58} {value:>14} {target:>8} {'' if met is None else 'ok' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
