"""A whole screening journey under load: Locust, headless, against gunicorn
on PostgreSQL and Redis.

USERS simulated clinicians (50 by default), for SECONDS (300), each with a
user of its own (clinicians sign in with a password alone unless
TWO_FACTOR_FOR_CLINICIANS is set; leads need two factors, so none is used),
each pausing 1-3 s between steps: sign in, new screening, the questionnaire
section by section (full form posts as a browser without JavaScript sends
them; partial saves), summary, finalise, download the PDF. See
bench/_journey_users.py for the steps.

Reports per step p50/p95/p99, completed screenings per minute and errors;
targets: no error, and no step's p95 above 4x its own p50. Afterwards it
checks that the audit trail verifies (`manage.py verify_audit`) and that
every final the journey made holds every answer it sent (compared with
what the questionnaire form makes of the same fields).

The answers: each question of the chosen conditions, instruments item by
item, a typed count of adequate failed trials in place of the trials table
(the count a form without the table gives), calm values with some variety.

No lockout or rate limit needs loosening: each clinician signs in once with
the right password (django-axes counts failures only), and the PDF limit
applies to drafts, not finals.

Run with `make bench-journey` or `.venv/bin/python -m bench.journey [--users
N] [--seconds N] [--workers N]`. Uses a PostgreSQL database of its own and
Redis database 14, both removed or emptied at the end. Writes its figures
to bench/results/journey-<date>.json.
"""

import argparse
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.http import (
    OWNER_ROLE,
    RESULTS,
    ensure_postgresql,
    free_port,
    psql,
    redis_flush,
    server_environment,
    wait_for,
)

ROOT = Path(__file__).resolve().parent.parent
REDIS_DB = 14
TAIL_TARGET = 4.0  # a step's p95 / its own p50 at most
PLANS = 12
PASSWORD = "journey-" + "p" * 20
STEPS = (  # Locust's request names, in journey order
    "sign in (form)", "sign in", "new screening (form)", "new screening", "questionnaire: save a section",
    "questionnaire: show summary", "finalise", "download the PDF",
)


def answer_fields(rulebook, conditions, rnd):
    """The questionnaire's fields for these conditions, section by section:
    [[(name, value), ...], ...], as a clinician without JavaScript fills
    them in, with the answers a calm patient gives."""
    from rules import engine

    instruments = {code: i for i in rulebook.instruments for code in i.items}
    totals = {i.total for i in rulebook.instruments}
    trials_counts = {q.code for q in rulebook.calculated_questions if q.calculation == engine.ADEQUATE_FAILED_TRIALS}
    sections = {}
    for question in rulebook.questions_for(conditions):
        fields = sections.setdefault(question.section, [])
        code = question.code
        if code in instruments:
            scores = [option.score for option in instruments[code].options]
            fields.append((code, str(rnd.choice(scores[: max(1, len(scores) // 2)]))))
        elif code in totals or question.kind == engine.TRIALS:
            continue  # worked out from the items; the table is left out (its count is typed)
        elif code in trials_counts:
            fields.append((code, str(rnd.randint(2, 3))))
        elif question.kind == engine.BOOLEAN:
            fields.append((code, "yes" if rnd.random() < 0.1 else "no"))
        elif question.kind in (engine.INTEGER, engine.DECIMAL):
            low, high = int(question.min or 0), int(question.max or 100)
            fields.append((code, str(rnd.randint(low, low + (high - low) // 3))))
        elif question.kind == engine.CHOICE:
            fields.append((code, question.choices[0].value))
        elif question.kind == engine.MULTI_CHOICE:
            fields.append((code, question.choices[-1].value))
    return [fields for fields in sections.values() if fields]


def make_plans(rulebook, count):
    """`count` screenings to make: conditions, year of birth, the fields of
    each section, and the answers the questionnaire form makes of them all
    (what the final must hold)."""
    from django.http import QueryDict

    from screening.forms import QuestionnaireForm

    rnd = random.Random(28)
    slugs = [c.slug for c in rulebook.conditions]
    plans = []
    for index in range(count):
        conditions = slugs if index == 0 else rnd.sample(slugs, rnd.randint(1, min(4, len(slugs))))
        year_of_birth = rnd.randint(1950, 2000)
        sections = answer_fields(rulebook, conditions, rnd)
        data = QueryDict(mutable=True)
        data["revision"] = "1"
        for fields in sections:
            for name, value in fields:
                data.appendlist(name, value)
        form = QuestionnaireForm(data, rulebook=rulebook, conditions=conditions, year_of_birth=year_of_birth)
        form.is_valid()
        plans.append({"conditions": conditions, "year_of_birth": year_of_birth, "sections": sections,
                      "answers": json.loads(json.dumps(form.answers, default=str))})
    return plans


def lost_answers(done, plans):
    """For each final the journey made, the answers it sent that the final
    does not hold (or holds otherwise): {screening id: [codes]}."""
    from screening.models import Screening

    finals = Screening.objects.filter(pk__in=[d["screening"] for d in done]).only("id", "status", "answers")
    found = {s.pk: s for s in finals}
    lost = {}
    for d in done:
        screening = found.get(d["screening"])
        expected = plans[d["plan"]]["answers"]
        if screening is None or screening.status != "final":
            lost[d["screening"]] = ["(no final)"]
            continue
        stored = json.loads(json.dumps(screening.answers, default=str))
        missing = [code for code, value in expected.items() if stored.get(code) != value]
        if missing:
            lost[d["screening"]] = missing
    return lost


def read_stats(prefix):
    """Locust's per-request statistics (its _stats.csv), by request name."""
    with open(f"{prefix}_stats.csv") as file:
        return {row["Name"]: row for row in csv.DictReader(file)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50, help="simulated clinicians")
    parser.add_argument("--seconds", type=int, default=300, help="how long the load lasts")
    parser.add_argument("--spawn-rate", type=float, default=5, help="clinicians started per second")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    args = parser.parse_args()

    ensure_postgresql()
    redis_flush(REDIS_DB)
    database = f"ketascreen_journey_{os.getpid()}"
    psql(f"CREATE DATABASE {database} OWNER {OWNER_ROLE}")
    media = tempfile.mkdtemp(prefix="ketascreen-journey-media-")
    work = Path(tempfile.mkdtemp(prefix="ketascreen-journey-"))
    env = server_environment(database, media, REDIS_DB)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    server = None
    try:
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.contrib.auth.hashers import make_password
        from django.core.management import call_command
        from django.db import connection

        from rulebook.versions import current_rulebook

        call_command("migrate", verbosity=0)
        call_command("load_knowledge_base", verbosity=0)
        call_command("collectstatic", "--noinput", verbosity=0)
        password_hash = make_password(PASSWORD)
        users = get_user_model().objects.bulk_create([
            get_user_model()(username=f"journey-clinician-{index:03d}", password=password_hash)
            for index in range(args.users)
        ])
        rulebook = current_rulebook()
        plans = make_plans(rulebook, PLANS)
        plan_file, done_file = work / "plan.json", work / "done.jsonl"
        plan_file.write_text(json.dumps({
            "users": [{"username": u.username, "password": PASSWORD} for u in users], "plans": plans,
        }))
        done_file.touch()
        connection.close()

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--workers", str(args.workers),
             "--bind", f"127.0.0.1:{port}", "--no-control-socket", "--log-level", "warning"],
            cwd=ROOT, env={**os.environ, **env}, start_new_session=True,
        )
        wait_for(base + "/healthz")
        prefix = str(work / "locust")
        started = time.monotonic()
        subprocess.run(
            [str(Path(sys.executable).parent / "locust"), "-f", str(ROOT / "bench" / "_journey_users.py"),
             "--headless", "--host", base, "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
             "--run-time", f"{args.seconds}s", "--stop-timeout", "30", "--csv", prefix, "--only-summary",
             "--loglevel", "WARNING"],
            cwd=ROOT, env={**os.environ, "BENCH_JOURNEY_PLAN": str(plan_file), "BENCH_JOURNEY_DONE": str(done_file)},
            check=False, stdout=subprocess.DEVNULL,
        )
        minutes = (time.monotonic() - started) / 60
        stats = read_stats(prefix)
        done = [json.loads(line) for line in done_file.read_text().splitlines() if line]

        connection.connect()
        lost = lost_answers(done, plans)
        verify = subprocess.run(
            [sys.executable, "manage.py", "verify_audit"], cwd=ROOT, env={**os.environ, **env},
            capture_output=True, text=True,
        )
        result = report(stats, done, minutes, lost, verify, args)
        return 0 if result["met"] else 1
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        shutil.rmtree(media, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
        redis_flush(REDIS_DB)


def report(stats, done, minutes, lost, verify, args):
    print(f"journey: {args.users} clinicians for {args.seconds} s, 1-3 s pauses, gunicorn {args.workers} workers, "
          "PostgreSQL + Redis")
    print(f"{'step':32} {'requests':>8} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'p95/p50':>7} result")
    steps, errors, tail_ok = {}, 0, True
    for name in STEPS:
        row = stats.get(name)
        if row is None:
            continue
        p50, p95, p99 = (float(row[key]) for key in ("50%", "95%", "99%"))
        count, failures = int(row["Request Count"]), int(row["Failure Count"])
        tail = p95 / p50 if p50 else float("nan")
        ok = tail <= TAIL_TARGET
        tail_ok = tail_ok and ok
        errors += failures
        steps[name] = {"requests": count, "errors": failures, "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
                       "p95_over_p50": tail}
        print(f"{name:32} {count:8d} {failures:6d} {p50:7.0f} {p95:7.0f} {p99:7.0f} {tail:7.2f} "
              f"{'ok' if ok else 'MISSED'}")
    per_minute = len(done) / minutes if minutes else 0.0
    audit_ok = verify.returncode == 0
    print(f"completed screenings: {len(done)} ({per_minute:.1f} a minute)")
    print(f"errors: {errors} (target 0) {'ok' if errors == 0 else 'MISSED'}")
    print(f"no step's p95 above {TAIL_TARGET:g}x its p50: {'ok' if tail_ok else 'MISSED'}")
    print(f"audit trail: {'verifies' if audit_ok else 'BROKEN'}: {(verify.stdout or verify.stderr).strip()[:200]}")
    print(f"finals holding every answer sent: {len(done) - len(lost)} of {len(done)} "
          f"{'ok' if not lost else 'LOST ' + json.dumps(dict(list(lost.items())[:3]))}")
    met = errors == 0 and tail_ok and audit_ok and not lost and bool(done)
    result = {"users": args.users, "seconds": args.seconds, "workers": args.workers, "steps": steps,
              "completed": len(done), "per_minute": per_minute, "errors": errors, "tail_ok": tail_ok,
              "audit_verifies": audit_ok, "finals_with_lost_answers": len(lost), "met": met}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"journey-{date.today().isoformat()}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"written to {path.relative_to(ROOT)}")
    return result


if __name__ == "__main__":
    sys.exit(main())
