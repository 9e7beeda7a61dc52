"""Serve KetaScreen for real and measure every page against the floor.

gunicorn (2 workers, DEBUG off, persistent connections) in front of a fresh
PostgreSQL database with the default knowledge base and N screenings, loaded
over loopback by wrk with a session signed in through the login form (so
whatever the session engine). Each page's throughput is reported as a ratio
of the floor's in the same run, since timings on shared machines are noisy.
The floor is a signed-in page with no content of its own: Django's
password-change-done page (the session, its user, the base template, one
sentence), requested with the same session cookie as the pages, so a ratio
shows what a page's own work costs on top of any signed-in request. The
floor is measured by turns with each page (ROUNDS slices of each), so that
a machine slowing down or speeding up during the run moves both sides of a
ratio alike. The table shows each page's requests/s, its floor's, their
ratio against the target, and the page's p50, p95 and p99 latency over all
its requests (from wrk's latency histogram, read by a done() hook). Every
page is measured at 4 connections (the targets are judged there) and again
at 16, each against the floor at the same concurrency. Then a growth check:
p50 of the list and a summary with 100,000 screenings against 1,000.

`--database sqlite` measures the same pages on an SQLite file instead, the
database of `make run` (reported, not judged: production runs PostgreSQL);
`make bench` runs both.

Run with `make bench` or `.venv/bin/python -m bench.http [--screenings N]`
(as a module: run as a file, this file's name would hide the standard
library's http package).
The app is given REDIS_URL, a Redis database of the benchmark's own (Redis
at 127.0.0.1:6379), for a cache shared as several servers would share one.
Cleans up after itself: stops gunicorn, drops the database, empties that
Redis database.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PGHOST, PGPORT = "127.0.0.1", "5432"
ROLE = "ketascreen"
OWNER_ROLE = "ketascreen_owner"
# The app's shared cache (REDIS_URL), in a Redis database of the benchmark's
# own, emptied before and after the run.
REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 12

# The floor: a signed-in page with no content of its own (Django's
# PasswordChangeDoneView: the session, its user, the base template and one
# sentence), so that a ratio is what a page's own work leaves of it.
FLOOR = "/accounts/password/done/"
TARGETS = {  # page: minimum throughput as a ratio of the floor's (issue targets)
    "summary (final)": 0.5,
    "pdf (final, stored)": 0.5,
    "summary (draft)": 0.5,
    "list (25 rows)": 0.5,
    "questionnaire GET (8 conditions)": 0.3,
    "questionnaire POST (evaluate + save)": 0.3,
}
GROWTH_TARGET = 1.3
TAIL_TARGET = 1.5  # a page's p99/p50 at most this many times the floor's own, in the same run
ROUNDS = 4  # slices of page and floor, by turns, per page
PERCENTILES = (50, 95, 99)  # of latency, per page
QUANTILES = 1000  # a load's latency distribution, as this many quantiles
POSTS_PER_SECOND = 600  # drafts made per second of POST load: more than a worker pair can save


# --- PostgreSQL -------------------------------------------------------------


def psql(sql, database="postgres"):
    return subprocess.run(
        ["psql", "-h", PGHOST, "-p", PGPORT, "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1",
         "-qtAc", sql],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


def ensure_postgresql():
    if subprocess.run(["pg_isready", "-h", PGHOST, "-p", PGPORT, "-q"]).returncode != 0:
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=True)
        for _ in range(30):
            if subprocess.run(["pg_isready", "-h", PGHOST, "-p", PGPORT, "-q"]).returncode == 0:
                break
            time.sleep(1)
    for role in (ROLE, OWNER_ROLE):  # the app's role, and the owner that migrates
        if psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'") != "1":
            psql(f"CREATE ROLE {role} LOGIN CREATEDB PASSWORD '{role}'")


def redis_flush(db):
    """Empty Redis database `db` (SELECT, FLUSHDB in Redis's own protocol)."""
    number = str(db).encode()
    command = b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n*1\r\n$7\r\nFLUSHDB\r\n" % (len(number), number)
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=10) as sock:
            sock.sendall(command)
            reply = b""
            while reply.count(b"\r\n") < 2 and (chunk := sock.recv(1024)):
                reply += chunk
    except OSError as error:
        raise SystemExit(f"Redis does not answer at {REDIS_HOST}:{REDIS_PORT}: {error}") from None
    if reply != b"+OK\r\n+OK\r\n":
        raise SystemExit(f"Redis did not empty database {db}: {reply!r}")


# --- load -----------------------------------------------------------------


def ensure_wrk():
    if shutil.which("wrk"):
        return "wrk"
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True)
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True)
    return "wrk" if shutil.which("wrk") else None


WRK_SCRIPT = """
local cookie = os.getenv("BENCH_COOKIE")
local bodies = {}
local paths = {}
local n = 0
local file = os.getenv("BENCH_POSTS")
if file then
  for line in io.lines(file) do
    local path, body = line:match("^(%S+) (.*)$")
    n = n + 1
    paths[n] = path
    bodies[n] = body
  end
end
local i = 0
request = function()
  local headers = {Cookie = cookie}
  if n == 0 then
    return wrk.format("GET", nil, headers)
  end
  i = i + 1
  local k = ((i - 1) % n) + 1
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  return wrk.format("POST", paths[k], headers, bodies[k])
end
-- For the benchmark: counts, and the latency distribution as quantiles.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("bench: requests %d microseconds %d non_2xx_3xx %d socket_errors %d\\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout))
  local quantiles = {}
  for k = 1, QUANTILES - 1 do
    quantiles[k] = string.format("%d", latency:percentile(100 * k / QUANTILES))
  end
  quantiles[QUANTILES] = string.format("%d", latency.max)  -- percentile(100) is no maximum in wrk
  io.write("bench: latency_us " .. table.concat(quantiles, " ") .. "\\n")
end
""".replace("QUANTILES", str(QUANTILES))


def run_wrk(wrk, url, seconds, env, connections=4):
    """One load of `url` by wrk: what its done() hook reports."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        result = subprocess.run(
            # A slow response is counted late, not dropped as a timeout (wrk's default is 2 s).
            [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", script.name, url],
            capture_output=True, text=True, env={**os.environ, **env}, check=True,
        )
        out = result.stdout
    finally:
        os.unlink(script.name)
    if "bench: latency_us" not in out:
        raise SystemExit(f"wrk did not report: {result.stderr.strip()}")
    counts = re.search(r"bench: requests (\d+) microseconds (\d+) non_2xx_3xx (\d+) socket_errors (\d+)", out)
    requests, microseconds, non_2xx_3xx, socket_errors = map(int, counts.groups())
    quantiles = [int(value) / 1000 for value in re.search(r"bench: latency_us ([\d ]+)", out).group(1).split()]
    return {"requests": requests, "seconds": microseconds / 1e6, "non_2xx_3xx": non_2xx_3xx,
            "socket_errors": socket_errors, "latency_ms": quantiles}


def run_python_load(url, seconds, env, connections=4):
    """A small fallback load generator when wrk cannot be had."""
    import http.client
    import threading
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    posts = []
    if env.get("BENCH_POSTS"):
        posts = [line.split(" ", 1) for line in Path(env["BENCH_POSTS"]).read_text().splitlines()]
    latencies, errors, lock, counter = [], [0], threading.Lock(), [0]
    deadline = time.perf_counter() + seconds

    def worker():
        connection = http.client.HTTPConnection(parts.hostname, parts.port)
        while time.perf_counter() < deadline:
            headers = {"Cookie": env["BENCH_COOKIE"]}
            with lock:
                counter[0] += 1
                index = counter[0]
            start = time.perf_counter()
            if posts:
                path, body = posts[(index - 1) % len(posts)]
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                connection.request("POST", path, body, headers)
            else:
                connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
            response = connection.getresponse()
            response.read()
            with lock:
                latencies.append((time.perf_counter() - start) * 1000)
                errors[0] += response.status >= 400

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    quantiles = [latencies[max(0, -(-len(latencies) * k // QUANTILES) - 1)] for k in range(1, QUANTILES + 1)]
    return {"requests": len(latencies), "seconds": elapsed, "non_2xx_3xx": errors[0], "socket_errors": 0,
            "latency_ms": quantiles if latencies else []}


# --- data -----------------------------------------------------------------


def full_answers(rulebook, rnd):
    """Answers to every question, like a calm patient with some variety.
    Calculated questions get a typed total (their inputs are left out, as
    in records from before instruments were asked item by item)."""
    answers = {}
    inputs = {code for q in rulebook.calculated_questions for code in q.inputs}
    inputs |= {code for i in rulebook.instruments for code in i.extra_items}
    for question in rulebook.questions:
        if question.code in inputs:
            continue
        if question.kind == "boolean":
            answers[question.code] = rnd.random() < 0.1
        elif question.kind in ("integer", "decimal"):
            low, high = int(question.min or 0), int(question.max or 100)
            answers[question.code] = rnd.randint(low, low + (high - low) // 3)
        elif question.kind == "choice":
            answers[question.code] = question.choices[0].value
        else:
            answers[question.code] = [question.choices[-1].value]
    return answers


def seed(count, clinician, rulebook, *, start=0):
    """`count` screenings of `clinician`: templates evaluated through the
    services, copied in bulk with their own references, a third final."""
    import random

    from rulebook.versions import snapshot_for
    from rules import engine
    from screening.models import Screening

    rnd = random.Random(start)
    snapshot = snapshot_for(rulebook)
    slugs = [c.slug for c in rulebook.conditions]
    templates = []
    for index in range(12):
        conditions = rnd.sample(slugs, rnd.randint(1, 4))
        answers = full_answers(rulebook, rnd)
        if index % 4 == 3:
            answers = {code: value for code, value in list(answers.items())[:10]}
        validation = engine.validate_answers(rulebook, conditions, answers)
        advisory = engine.evaluate(rulebook, validation.conditions, validation.answers)
        templates.append((list(validation.conditions), validation.answers, advisory))
    batch = []
    for index in range(start, start + count):
        conditions, answers, advisory = templates[index % len(templates)]
        final = index % 3 == 0
        batch.append(Screening(
            patient_reference=f"B-{index:07d}", year_of_birth=1950 + index % 50, owner=clinician,
            conditions=conditions, answers=answers, snapshot=snapshot,
            rulebook_version=rulebook.version, result=advisory.to_dict(),
            worst_status=advisory.worst_status(), alert_count=len(advisory.alerts),
            status="final" if final else "draft", finalised_by=clinician if final else None,
        ))
        if len(batch) == 5000:
            Screening.objects.bulk_create(batch)
            batch = []
    Screening.objects.bulk_create(batch)


def copies(screening, count, prefix):
    """`count` copies of a draft in one INSERT, each with its own patient reference."""
    from screening.models import Screening

    fields = [f.attname for f in Screening._meta.concrete_fields if not f.primary_key]
    batch = []
    for index in range(count):
        values = {name: getattr(screening, name) for name in fields}
        values["patient_reference"] = f"{prefix}-{index:05d}"
        batch.append(Screening(**values))
    return Screening.objects.bulk_create(batch)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _csrf_field(html):
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    if not match:
        raise SystemExit("no CSRF token in the page")
    return match.group(1)


def sign_in(base, username, password):
    """Sign in through the login form, as a browser would, whatever the
    session engine: the Cookie header of the signed-in browser (its session
    and CSRF cookies) and a CSRF token for its forms."""
    from http.cookiejar import CookieJar
    from urllib.parse import urlencode

    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirects)
    with opener.open(f"{base}/accounts/login/") as response:
        token = _csrf_field(response.read().decode())
    form = urlencode({"csrfmiddlewaretoken": token, "username": username, "password": password}).encode()
    try:
        opener.open(urllib.request.Request(f"{base}/accounts/login/", form, headers={"Referer": f"{base}/"}))
        raise SystemExit("the login form did not sign in (no redirect)")
    except urllib.error.HTTPError as redirect:  # a redirect, not followed
        if redirect.code != 302:
            raise SystemExit(f"the login form answered {redirect.code}") from None
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    # The floor page, signed in: 200 (not a redirect to the login form), and
    # a form (sign out) with the CSRF token that the questionnaire POSTs use.
    with opener.open(urllib.request.Request(base + FLOOR, headers={"Cookie": cookie})) as response:
        assert response.status == 200, response.status
        csrf = _csrf_field(response.read().decode())
    return cookie, csrf


def post_bodies(path, drafts, rulebook, csrf):
    """One questionnaire POST per draft (each has its own revision to match)."""
    import random
    from urllib.parse import urlencode

    rnd = random.Random(7)
    lines = []
    for screening in drafts:
        answers = full_answers(rulebook, rnd)
        fields = [("csrfmiddlewaretoken", csrf), ("revision", screening.revision), ("action", "summary")]
        for question in rulebook.questions_for(screening.conditions):
            value = answers.get(question.code)
            if value is None:
                continue
            if isinstance(value, bool):
                fields.append((question.code, "yes" if value else "no"))
            elif isinstance(value, list):
                fields.extend((question.code, item) for item in value)
            else:
                fields.append((question.code, value))
        lines.append(f"/screenings/{screening.pk}/questionnaire/ {urlencode(fields)}")
    Path(path).write_text("\n".join(lines) + "\n")


# --- the run --------------------------------------------------------------


def single_request_ms(url, cookie):
    """One request's time, in milliseconds."""
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
    return (time.perf_counter() - start) * 1000


def drain(url, cookie, quiet_ms, timeout=120):
    """Waits until `url` is answered at its idle speed again. When a load
    ends, wrk stops sending, but the workers still answer every request
    it had sent; at 16 connections to a slow page that queue outlasts a
    slice, and the next load (the floor's) would be timed behind it."""
    deadline = time.monotonic() + timeout
    while single_request_ms(url, cookie) > quiet_ms and time.monotonic() < deadline:
        pass


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer {url} within {timeout}s")


def server_environment(database, media, redis_db, *, sqlite_file=None):
    """The environment a benchmark's servers (and its own setup) run with:
    production settings on a PostgreSQL database (or an SQLite file) and a
    Redis database of the benchmark's own, over plain HTTP on loopback."""
    if sqlite_file is not None:
        databases = {"DATABASE_URL": f"sqlite:///{sqlite_file}"}
    else:
        databases = {
            "DATABASE_URL": f"postgres://{ROLE}:{ROLE}@{PGHOST}:{PGPORT}/{database}",
            "MIGRATE_DATABASE_URL": f"postgres://{OWNER_ROLE}:{OWNER_ROLE}@{PGHOST}:{PGPORT}/{database}",
        }
    return {
        **databases,
        "DEBUG": "false", "SECRET_KEY": "benchmark-only-" + "k" * 40, "ALLOWED_HOSTS": "127.0.0.1",
        "AUDIT_KEYS": "bench:benchmark-only-audit-key-" + "a" * 32,
        "SECURE_SSL_REDIRECT": "false", "SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0", "CONN_MAX_AGE": "60", "MEDIA_ROOT": media, "LOG_LEVEL": "WARNING",
        "REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--screenings", type=int, default=1000)
    parser.add_argument("--growth", type=int, default=100_000, help="screenings for the growth check (0: skip)")
    parser.add_argument("--seconds", type=int, default=8, help="load per page")
    parser.add_argument("--connections", default="4,16",
                        help="concurrencies to measure at, comma-separated; targets are judged at the first")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args()
    concurrencies = [int(value) for value in args.connections.split(",")]
    on_sqlite = args.database == "sqlite"

    redis_flush(REDIS_DB)
    wrk = ensure_wrk()
    database = f"ketascreen_bench_{os.getpid()}"
    media = tempfile.mkdtemp(prefix="ketascreen-bench-media-")
    if on_sqlite:
        env = server_environment(database, media, REDIS_DB, sqlite_file=Path(media) / "bench.sqlite3")
    else:
        ensure_postgresql()
        psql(f"CREATE DATABASE {database} OWNER {OWNER_ROLE}")
        env = server_environment(database, media, REDIS_DB)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    server = None
    post_files = []  # the POST bodies written for wrk, removed at the end
    try:
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.db import connection

        from rulebook.versions import current_rulebook
        from screening.models import Screening
        from screening.services import screening_create

        call_command("migrate", verbosity=0)
        call_command("load_knowledge_base", verbosity=0)
        call_command("collectstatic", "--noinput", verbosity=0)
        password = "bench-" + "p" * 20
        clinician = get_user_model().objects.create_user("bench-clinician", password=password)
        rulebook = current_rulebook()
        seed(args.screenings, clinician, rulebook)
        analyse(database, on_sqlite)
        all_conditions = [c.slug for c in rulebook.conditions]
        draft = screening_create(owner=clinician, patient_reference="BENCH-DRAFT", year_of_birth=1970,
                                 conditions=all_conditions, answers=full_answers(rulebook, __import__("random").Random(1)))
        final = Screening.objects.filter(status="final").order_by("id").first()
        # Each POST saves a draft of its own (one posted twice would meet the
        # stale-form check instead): enough for several hundred a second,
        # the warm-up's apart from the measurement's.
        blank = screening_create(owner=clinician, patient_reference="POST-BLANK", year_of_birth=1970,
                                 conditions=all_conditions, rulebook=rulebook)
        warm_drafts, post_drafts = (copies(blank, count, prefix) for count, prefix in (
            (POSTS_PER_SECOND, "POST-WARM"), (POSTS_PER_SECOND * args.seconds, "POST")))
        connection.close()

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--workers", "2",
             "--bind", f"127.0.0.1:{port}", "--no-control-socket", "--log-level", "warning"],
            cwd=ROOT, env={**os.environ, **env}, start_new_session=True,
        )
        wait_for(base + "/healthz")
        cookie, csrf = sign_in(base, clinician.username, password)
        load_env = {"BENCH_COOKIE": cookie}
        # One file of POSTs per slice of the measurement, each its own drafts.
        warm_posts = Path(tempfile.mkstemp(suffix=".txt")[1])
        post_files.append(warm_posts)
        post_bodies(warm_posts, warm_drafts, rulebook, csrf)
        per_slice = len(post_drafts) // ROUNDS
        posts = [Path(tempfile.mkstemp(suffix=".txt")[1]) for _ in range(ROUNDS)]
        post_files += posts
        for turn, file in enumerate(posts):
            post_bodies(file, post_drafts[turn * per_slice : (turn + 1) * per_slice], rulebook, csrf)
        # Store the final PDF once, as a clinician's first download would.
        request = urllib.request.Request(f"{base}/screenings/{final.pk}/pdf/", headers={"Cookie": cookie})
        with urllib.request.urlopen(request) as response:
            assert response.headers["Content-Type"] == "application/pdf"

        pages = {  # measured each by turns with the floor
            "list (25 rows)": "/screenings/",
            "questionnaire GET (8 conditions)": f"/screenings/{draft.pk}/questionnaire/",
            "questionnaire POST (evaluate + save)": None,
            "summary (draft)": f"/screenings/{draft.pk}/",
            "summary (final)": f"/screenings/{final.pk}/",
            "pdf (final, stored)": f"/screenings/{final.pk}/pdf/",
        }
        def load(url, seconds, extra, connections=concurrencies[0]):
            if wrk:
                return run_wrk(wrk, url, seconds, extra, connections)
            return run_python_load(url, seconds, extra, connections)

        slice_seconds = max(1, args.seconds // ROUNDS)
        # The floor's idle speed, for telling when a load's queue has drained.
        load(base + FLOOR, 1, load_env)
        quiet_ms = max(50.0, 3 * min(single_request_ms(base + FLOOR, cookie) for _ in range(5)))
        by_concurrency = {}
        for connections in concurrencies:
            results, floors = {}, []
            load(base + FLOOR, 1, load_env, connections)  # warm up the floor too
            for name, path in pages.items():
                # Every URL with the signed-in session cookie, the floor too: its
                # floor is a signed-in page's framework cost. (A POST names its
                # own path.)
                url = base + (path or "/")
                warm = dict(load_env, **({"BENCH_POSTS": str(warm_posts)} if path is None else {}))
                load(url, 1, warm, connections)  # warm up the workers' caches and connections
                page_runs, floor_runs = [], []
                drain(base + FLOOR, cookie, quiet_ms)
                for turn in range(ROUNDS):
                    floor_runs.append(load(base + FLOOR, slice_seconds, load_env, connections))
                    extra = dict(load_env, **({"BENCH_POSTS": str(posts[turn])} if path is None else {}))
                    page_runs.append(load(url, slice_seconds, extra, connections))
                    drain(base + FLOOR, cookie, quiet_ms)
                results[name] = combined(page_runs)
                results[name]["floor_rps"] = combined(floor_runs)["rps"]
                floors += floor_runs
            by_concurrency[connections] = {f"floor: {FLOOR}": combined(floors), **results}
            posted = results["questionnaire POST (evaluate + save)"]["requests"]
            if posted > len(post_drafts):
                print(f"warning: {posted} POSTs for {len(post_drafts)} drafts: repeats met the stale-form check, "
                      "so the POST figure is too low; raise POSTS_PER_SECOND")
            if connections != concurrencies[-1]:
                # Fresh drafts for the next concurrency's POSTs: each draft is saved once.
                connection.connect()
                for turn, file in enumerate(posts):
                    drafts = copies(blank, per_slice, f"POST-{connections}-{turn}")
                    post_bodies(file, drafts, rulebook, csrf)
                connection.close()

        growth = None
        if args.growth > args.screenings:
            # p50 is the best of two runs on each side, each side measured in
            # the same way, after the bulk load has been analysed and written
            # out (a checkpoint), so that neither meets the load's own I/O.
            def p50(name):
                url = base + pages[name]
                load(url, 1, load_env)
                return min(combined([load(url, args.seconds, load_env)])["p50_ms"] for _ in range(2))

            before = {name: p50(name) for name in ("list (25 rows)", "summary (final)")}
            connection.connect()
            seed(args.growth - args.screenings, clinician, rulebook, start=args.screenings)
            connection.close()
            analyse(database, on_sqlite, checkpoint=True)
            after = {name: p50(name) for name in before}
            growth = {name: {"p50_ms_small": before[name], "p50_ms_large": after[name],
                             "ratio": after[name] / before[name]} for name in before}

        report(by_concurrency, growth, args)
        # Targets are judged on PostgreSQL, the production database, at the bench's concurrency.
        return 0 if on_sqlite or passed(by_concurrency[concurrencies[0]], growth) else 1
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        for file in post_files:
            file.unlink(missing_ok=True)
        from django.db import connections

        connections.close_all()
        if not on_sqlite:
            psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        shutil.rmtree(media, ignore_errors=True)
        redis_flush(REDIS_DB)


def analyse(database, on_sqlite, *, checkpoint=False):
    """Statistics after a bulk load, as autovacuum would gather them (by the
    superuser on PostgreSQL: the app role may not), and its writes put out."""
    if on_sqlite:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        connection.close()
        return
    psql("ANALYZE", database)
    if checkpoint:
        psql("CHECKPOINT", database)


def combined(runs):
    """Loads of one URL (slices of it, or a single one) as one: requests/s
    over their whole time, and latency percentiles of all their requests
    (each load's quantiles standing for its requests in equal shares)."""
    requests = sum(run["requests"] for run in runs)
    result = {"rps": requests / sum(run["seconds"] for run in runs), "requests": requests,
              "non_2xx_3xx": sum(run["non_2xx_3xx"] for run in runs),
              "socket_errors": sum(run["socket_errors"] for run in runs)}
    samples = sorted((value, run["requests"] / len(run["latency_ms"]))
                     for run in runs if run["latency_ms"] for value in run["latency_ms"])
    total = sum(weight for _, weight in samples)
    for percentile in PERCENTILES:
        result[f"p{percentile}_ms"], seen = float("nan"), 0.0
        for value, weight in samples:
            seen += weight
            if seen >= total * percentile / 100 - 1e-9:
                result[f"p{percentile}_ms"] = value
                break
    return result


def ratio(result, results):
    """A page's requests/s as a ratio of the floor's, measured by turns with it."""
    floor = result.get("floor_rps", results[f"floor: {FLOOR}"]["rps"])
    return result["rps"] / floor if floor else float("nan")


def report(by_concurrency, growth, args):
    for connections, results in by_concurrency.items():
        print(f"{args.database}, {connections} connections:")
        # Targets are judged on PostgreSQL at the first concurrency; the rest is reported.
        report_pages(results, judged=args.database == "postgresql" and connections == next(iter(by_concurrency)))
    if growth:
        for name, g in growth.items():
            mark = "ok" if g["ratio"] <= GROWTH_TARGET else "MISSED"
            print(f"growth {name}: p50 {g['p50_ms_small']:.1f} ms at {args.screenings:,} screenings, "
                  f"{g['p50_ms_large']:.1f} ms at {args.growth:,}: ratio {g['ratio']:.2f} "
                  f"(target <= {GROWTH_TARGET}) {mark}")
    name = "http" if args.database == "postgresql" else f"http-{args.database}"
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{date.today().isoformat()}.json"
    first, *_ = by_concurrency
    path.write_text(json.dumps({
        "database": args.database, "screenings": args.screenings, "seconds": args.seconds,
        "connections": first, "pages": by_concurrency[first],
        "by_connections": {str(c): results for c, results in by_concurrency.items()}, "growth": growth,
    }, indent=2))
    print(f"written to {path.relative_to(ROOT)}")


def report_pages(results, *, judged):
    latency = " ".join(f"{f'p{p} ms':>7}" for p in PERCENTILES)
    print(f"{'page':40} {'req/s':>7} {'floor':>7} {latency} {'ratio':>5} {'target':>7} {'tail':>5} result")
    floor_tail = tail(results[f"floor: {FLOOR}"])
    for name, result in results.items():
        result["ratio"] = ratio(result, results)
        floor = result.get("floor_rps", result["rps"])
        target = TARGETS.get(name) if judged else None
        mark = "" if target is None else ("ok" if result["ratio"] >= target else "MISSED")
        # The tail: p99/p50 against the floor's own (a guard: <= TAIL_TARGET).
        result["tail"] = tail(result) / floor_tail
        if target is not None and result["tail"] > TAIL_TARGET:
            mark += " TAIL MISSED"
        if result["non_2xx_3xx"] or result["socket_errors"]:
            mark = "ERRORS"
        latency = " ".join(f"{result[f'p{p}_ms']:7.1f}" for p in PERCENTILES)
        print(f"{name:40} {result['rps']:7.1f} {floor:7.1f} {latency} {result['ratio']:5.2f} "
              f"{('>= ' + str(target)) if target else '':>7} {result['tail']:5.2f} {mark}")
        if result["non_2xx_3xx"]:
            print(f"  {result['non_2xx_3xx']} responses were errors")
        if result["socket_errors"]:
            print(f"  {result['socket_errors']} requests met socket errors or timeouts")


def tail(result):
    """p99 / p50 of a page's latency."""
    return result["p99_ms"] / result["p50_ms"]


def passed(results, growth):
    ok = all(ratio(results[name], results) >= target for name, target in TARGETS.items())
    ok = ok and all(r.get("tail", 0) <= TAIL_TARGET for name, r in results.items() if name in TARGETS)
    ok = ok and all(r["non_2xx_3xx"] == 0 and r["socket_errors"] == 0 for r in results.values())
    return ok and (growth is None or all(g["ratio"] <= GROWTH_TARGET for g in growth.values()))


if __name__ == "__main__":
    sys.exit(main())
