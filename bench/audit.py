"""Does the audit trail serialise the app? Throughput with 1 and with 4
gunicorn workers, on PostgreSQL, of an audited page, of the same page with
auditing switched off (AUDIT_ENABLED=false), and of the floor, in one run.

The audited page is a final screening's summary: every view appends a
"summary viewed" event. The floor is Django's password-change-done page,
signed in (as in bench/http.py), which audits nothing. For each number of
workers a server runs with auditing on, then another with it off, and on
each the floor and the page are loaded by turns (ROUNDS slices each), so a
machine slowing down or speeding up moves both alike.

A page's *scaling* is its requests/s with 4 workers divided by those with
1. On a machine with fewer cores than 4 no page scales 4×, so the targets
compare scalings with each other, never with a fixed factor:

- audited scaling >= 0.8 × the floor's scaling;
- audited scaling >= 0.9 × the same page's scaling without auditing.

An append path that queued every request behind one row's lock would keep
the audited page's throughput near its 1-worker figure however many
workers there were.

Run with `make bench` or `.venv/bin/python -m bench.audit [--seconds N]
[--redis-db N]`. Uses a database of its own (dropped at the end) and a
Redis database of its own (emptied before and after).
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from bench.http import (
    FLOOR,
    OWNER_ROLE,
    RESULTS,
    combined,
    ensure_postgresql,
    ensure_wrk,
    free_port,
    full_answers,
    psql,
    redis_flush,
    run_python_load,
    run_wrk,
    server_environment,
    sign_in,
    wait_for,
)

ROOT = Path(__file__).resolve().parent.parent
WORKERS = (1, 4)
ROUNDS = 4  # slices of floor and page, by turns, per server
CONNECTIONS = 8  # open connections of the load: enough to keep 4 workers busy
TARGETS = {"floor": 0.8, "unaudited": 0.9}  # audited scaling as a share of these scalings


def serve(workers, env, audited):
    """gunicorn with `workers` sync workers, auditing on or off; its process and base URL."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--workers", str(workers),
         "--bind", f"127.0.0.1:{port}", "--no-control-socket", "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, **env, "AUDIT_ENABLED": "true" if audited else "false"},
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(base + "/healthz")
    return server, base


def stop(server):
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


def measure(load, base, page, cookie, seconds):
    """The floor and `page`, loaded by turns: (floor's loads, page's loads)."""
    env = {"BENCH_COOKIE": cookie}
    load(base + FLOOR, 1, env)  # warm up the workers' caches and connections
    load(base + page, 1, env)
    floors, pages = [], []
    for _turn in range(ROUNDS):
        floors.append(load(base + FLOOR, seconds, env))
        pages.append(load(base + page, seconds, env))
    return floors, pages


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8, help="load per page and server (in ROUNDS slices)")
    parser.add_argument("--redis-db", type=int, default=13, help="a Redis database of the benchmark's own")
    args = parser.parse_args()

    ensure_postgresql()
    redis_flush(args.redis_db)
    wrk = ensure_wrk()
    database = f"ketascreen_bench_audit_{os.getpid()}"
    psql(f"CREATE DATABASE {database} OWNER {OWNER_ROLE}")
    media = tempfile.mkdtemp(prefix="ketascreen-bench-media-")
    env = server_environment(database, media, args.redis_db)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    server = None
    try:
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.db import connection

        from rulebook.versions import current_rulebook
        from screening.services import screening_create, screening_finalise

        call_command("migrate", verbosity=0)
        call_command("load_knowledge_base", verbosity=0)
        call_command("collectstatic", "--noinput", verbosity=0)
        password = "bench-" + os.urandom(12).hex()
        clinician = get_user_model().objects.create_user("bench-clinician", password=password)
        rulebook = current_rulebook()
        draft = screening_create(
            owner=clinician, patient_reference="BENCH-AUDIT", year_of_birth=1970,
            conditions=[c.slug for c in rulebook.conditions], answers=full_answers(rulebook, random.Random(1)),
        )
        final = screening_finalise(screening=draft, user=clinician, reason="Benchmark record.")
        page = f"/screenings/{final.pk}/"
        connection.close()

        load = ((lambda url, seconds, extra: run_wrk(wrk, url, seconds, extra, connections=CONNECTIONS)) if wrk
                else (lambda url, seconds, extra: run_python_load(url, seconds, extra, connections=CONNECTIONS)))
        slice_seconds = max(1, args.seconds // ROUNDS)
        runs = {}
        for workers in WORKERS:
            floors = []  # the floor's loads on both servers
            for audited in (True, False):
                server, base = serve(workers, env, audited)
                cookie, _csrf = sign_in(base, clinician.username, password)
                floor_loads, page_loads = measure(load, base, page, cookie, slice_seconds)
                stop(server)
                server = None
                floors += floor_loads
                runs[("audited" if audited else "unaudited", workers)] = combined(page_loads)
            runs[("floor", workers)] = combined(floors)
        return report(runs, args, wrk)
    finally:
        if server is not None:
            stop(server)
        from django.db import connections

        connections.close_all()
        psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        shutil.rmtree(media, ignore_errors=True)
        redis_flush(args.redis_db)


def report(runs, args, wrk):
    """Print the table, the scalings and their ratios; write them to
    bench/results; 0 when both targets are met and no request failed."""
    names = {"floor": f"floor: {FLOOR}", "audited": "summary (final), audited",
             "unaudited": "summary (final), auditing off"}
    print(f"load: {'wrk' if wrk else 'Python fallback'}, {CONNECTIONS} connections, "
          f"{args.seconds} s per page and server")
    print(f"{'page':40} {'1 worker':>10} {'4 workers':>10} {'scaling':>8}")
    scaling = {}
    for kind, name in names.items():
        one, four = runs[(kind, 1)]["rps"], runs[(kind, 4)]["rps"]
        scaling[kind] = four / one
        print(f"{name:40} {one:10.1f} {four:10.1f} {scaling[kind]:8.2f}")
    ratios = {other: scaling["audited"] / scaling[other] for other in TARGETS}
    ok = True
    for other, target in TARGETS.items():
        met = ratios[other] >= target
        ok = ok and met
        print(f"audited scaling / {other} scaling: {ratios[other]:.2f} (target >= {target}) "
              f"{'ok' if met else 'MISSED'}")
    errors = sum(r["non_2xx_3xx"] + r["socket_errors"] for r in runs.values())
    if errors:
        print(f"{errors} requests failed or met socket errors")
        ok = False
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"audit-{date.today().isoformat()}.json"
    path.write_text(json.dumps({
        "seconds": args.seconds, "connections": CONNECTIONS,
        "runs": {f"{kind} {workers}": {k: v for k, v in result.items() if k != "latency_ms"}
                 for (kind, workers), result in runs.items()},
        "scaling": scaling, "ratios": ratios,
    }, indent=2))
    print(f"written to {path.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
