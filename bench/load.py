"""Many open tabs: logged-in viewers polling the batch list and a running batch's page, as htmx does, against
the start command's web server (gunicorn, config/gunicorn.py) and workers over PostgreSQL and Redis (the
broker, and the shared cache the polls answer from), while a 100,000-result batch is ingested.

    .venv/bin/python bench/load.py [--viewers 100,300,1000] [--duration 60] [--database-url postgres://...]

For each number of viewers, two phases on the same running system:
- the dashboard: each viewer opens its tab at some moment of the first --ramp seconds, loads the list and one
  running batch's page once, then polls both fragments every 5 s (HX-Request, HX-Target and If-None-Match when
  it holds an ETag, as the browser's cache sends for htmx's XHR), each followed by the health bar's poll as
  health.js does when the poll's answer did not bring the bar with it (out of band);
  its polls are measured once every tab is open, for --duration seconds;
  each tab is a coroutine holding its own kept-alive HTTP/1.1 connection, all on one event loop, so that what is
  measured is the server, not 1,000 client threads queueing for one GIL;
- the reference: the same viewers making the same requests at the same moments (the health bar's polls too,
  when the dashboard's needed them), each to a minimal Django view
  on the same gunicorn (`/healthz`: the whole middleware stack, no database): the limit of this stack on this
  machine at that moment.
Every figure is printed beside the reference's of the same level (×ref): on a shared 2-core machine absolute
times say more about the neighbours than about the code.

A quarter into the first level the emulator gets a 100,000-result ended batch (--big), which the next sync
mirrors and an ingest worker streams. Targets (issue 24): at 1,000 viewers 0 errors and every poll's p95 under
300 ms; an unchanged poll (answered 304) at most 3× the minimal view.

Viewers are logged in by writing their sessions as Django's `force_login` does: a thousand password hashes
(~0.3 s of CPU each) would otherwise be the load measured at the start.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from common import BENCH_KEY, ROOT, control, emulator_process, free_port, setup_django

VENV = Path(sys.executable).parent


class Stats:
    """What one phase measured. Written only by the event loop's thread, read once it has ended: no lock."""

    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.errors: list[str] = []
        self.reconnects = 0
        self.unchanged: list[float] = []  # the polls answered 304
        self.requests = 0

    def add(self, page: str, seconds: float, status: int) -> None:
        self.latency[page].append(seconds)
        self.statuses[page][status] += 1
        self.requests += page not in ("list page", "batch page")  # the polls of the measured window
        if status == 304:
            self.unchanged.append(seconds)
        if status not in (200, 304):
            self.errors.append(f"{page}: HTTP {status}")

    def reconnected(self) -> None:
        self.reconnects += 1

    def fail(self, page: str, error: str) -> None:
        self.errors.append(f"{page}: {error}")


class Viewer:
    """One browser tab's worth of requests over one keep-alive connection: a coroutine on the phase's event loop.

    A thread per tab added its wait for this process's GIL to every latency and took more of the CPU gunicorn
    shares (at 1,000 tabs, 2026-12-06: about 0.37 ms of CPU a request against 0.27 ms). The HTTP/1.1 is written
    and read by hand (_read_response) rather than with aiohttp or httpx: a tab holds exactly one connection and
    sends exactly the headers below (those libraries add a pool per session and headers of their own,
    Accept-Encoding: gzip among them, which would change what the server does), and a hand reader costs the loop
    the least per request.
    """

    def __init__(self, port: int, cookie: str, batch_id: str, seen: str, args, stop: asyncio.Event, stats: Stats,
                 reference: bool = False):  # fmt: skip
        self.port, self.cookie, self.stats, self.stop, self.args = port, cookie, stats, stop, args
        self.reference = reference  # every request to the minimal view instead, at the same moments
        self.batch_url = f"/batches/{batch_id}/"
        self.summary_url = f"{self.batch_url}?seen={seen}"
        self.tags: dict[str, str] = {}
        self.brought_bar: dict[str, bool] = {}  # by URL: whether its last 200 held the health bar
        self.conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, page: str, url: str, htmx_target: str | None = None) -> bool:
        """One request; whether its answer (a 304: the 200 it revalidated) brought the health bar out of band. The
        reference asks the minimal view instead, and follows what the dashboard phase's answers brought."""
        # The headers http.client sent for the thread-per-tab client, in its order (identity: no compression).
        headers = {"Accept-Encoding": "identity", "Cookie": self.cookie, "Host": "127.0.0.1"}
        if htmx_target:
            headers |= {"HX-Request": "true", "HX-Target": htmx_target}
            if url in self.tags and not self.reference:
                headers["If-None-Match"] = self.tags[url]
        target = "/healthz" if self.reference else url
        request = "".join([f"GET {target} HTTP/1.1\r\n", *(f"{k}: {v}\r\n" for k, v in headers.items()), "\r\n"])
        started = time.perf_counter()
        try:
            status, response_headers, body = await self._request(request.encode("latin-1"))
        except (OSError, http.client.HTTPException) as exc:
            self.stats.fail(page, f"{type(exc).__name__}: {exc}")
            self._close()
            return False
        if not htmx_target or time.monotonic() >= self.args.measure_from:
            self.stats.add(page, time.perf_counter() - started, status)
        elif status not in (200, 304):
            self.stats.fail(page, f"HTTP {status}")
        if self.reference:
            return self.args.brought_bar.get(page, False)
        if htmx_target and response_headers.get("etag"):
            self.tags[url] = response_headers["etag"]
        if status == 200:
            self.brought_bar[url] = b'hx-swap-oob="true"' in body and b'id="sync-health"' in body
            self.args.brought_bar[page] = self.brought_bar[url]
        return status in (200, 304) and self.brought_bar.get(url, False)

    async def _request(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        """As a browser does: a kept-alive connection the server has just closed is opened again and the GET sent
        once more; any other failure is an error, and so is waiting more than 30 s (a browser waits longer)."""
        for attempt in (1, 2):
            reused = self.conn is not None
            try:
                async with asyncio.timeout(30):  # connect, write and read: http.client's socket timeout
                    if self.conn is None:
                        self.conn = await asyncio.open_connection("127.0.0.1", self.port)
                    reader, writer = self.conn
                    writer.write(request)
                    await writer.drain()
                    status, headers, close, body = await _read_response(reader)
            except (ConnectionResetError, BrokenPipeError):  # http.client.RemoteDisconnected among them
                self._close()
                if not reused or attempt == 2:
                    raise
                self.stats.reconnected()
                continue
            if close:  # the server said so (a process about to be replaced): the next request opens another
                self._close()
            return status, headers, body
        raise AssertionError("unreachable")

    def _close(self) -> None:
        if self.conn is not None:
            self.conn[1].close()
            self.conn = None

    async def run(self) -> None:
        await asyncio.sleep(random.uniform(0, self.args.ramp))  # people open their tabs over the first seconds
        if self.stop.is_set():
            return
        try:
            await self.get("list page", "/")
            await self.get("batch page", self.batch_url)
            while not await self._stopped_within(self.args.interval):
                if not await self.get("list poll", "/", "batch-rows"):
                    await self._health()
                if not await self.get("batch poll", self.summary_url, "batch-summary"):
                    await self._health()
        finally:
            self._close()

    async def _stopped_within(self, seconds: float) -> bool:
        """threading.Event.wait(seconds): True as soon as the phase ends, False after seconds if it has not."""
        try:
            async with asyncio.timeout(seconds):
                await self.stop.wait()
        except TimeoutError:
            return False
        return True

    async def _health(self) -> None:
        """static/dashboard/health.js polls the health bar after a swap of another poll of the page that did not
        bring the bar (out of band)."""
        if self.args.health:
            await self.get("health", "/health/", "sync-health")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bool, bytes]:
    """One HTTP/1.1 response: its status, its headers (lower-cased names), whether the connection ends with it,
    and its body. Enough for gunicorn's answers: Content-Length, chunked, or a body to the close."""
    line = await reader.readline()
    if not line:
        raise http.client.RemoteDisconnected("Remote end closed connection without response")
    try:
        version, code, *_ = line.decode("latin-1").split(None, 2)
        status = int(code)
    except ValueError:
        raise http.client.BadStatusLine(repr(line)) from None
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n"):
        if not line:
            raise http.client.IncompleteRead(b"")
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    close = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
    body = b""
    try:
        if status in (204, 304):
            pass
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            while size := int((await reader.readline()).split(b";")[0], 16):
                body += (await reader.readexactly(size + 2))[:-2]  # the chunk and its CRLF
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):  # trailers, then the last CRLF
                pass
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        else:
            body = await reader.read()  # delimited by the close
            close = True
    except asyncio.IncompleteReadError as exc:
        raise http.client.IncompleteRead(exc.partial) from None
    except ValueError:
        raise http.client.HTTPException("malformed chunk size or Content-Length") from None
    return status, headers, close, body


def _seed(url: str, args) -> tuple[object, list[str]]:
    from django.contrib.auth.models import Group, User
    from django.db import connection

    from batches.models import Workspace

    with connection.cursor() as cursor:  # a dedicated database: start each run from empty tables
        cursor.execute("TRUNCATE batches_workspace, django_session CASCADE")
    User.objects.filter(username__startswith="load-").delete()
    ws = Workspace(name="load", base_url=url)
    ws.set_api_key(BENCH_KEY)
    ws.save()
    control(url, "POST", "seed_batch", {"api_key": BENCH_KEY, "count": args.batches - args.running, "n_requests": 50,
                                        "status": "ended"})  # fmt: skip
    running = control(url, "POST", "seed_batch", {"api_key": BENCH_KEY, "count": args.running, "n_requests": 100,
                                                  "status": "in_progress", "duration": 80_000})["ids"]  # fmt: skip
    viewers = Group.objects.get(name="Viewer")
    User.objects.bulk_create([User(username=f"load-{n:04d}") for n in range(max(args.levels))])
    viewers.user_set.add(*User.objects.filter(username__startswith="load-"))
    return ws, running


def _cookies(n: int) -> list[str]:
    """Sessions as `force_login` writes them (dashboard/middleware.py stamps REFRESHED_KEY at login too)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    from dashboard.middleware import REFRESHED_KEY

    cookies = []
    for user in User.objects.filter(username__startswith="load-").order_by("username")[:n]:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session[REFRESHED_KEY] = int(time.time())
        session.save()
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={session.session_key}; tz=UTC")
    return cookies


def _start(env: dict, log_dir: Path, port: int) -> list[subprocess.Popen]:
    """What bin/start runs: three workers (sync with the beat, ingest, notify) and gunicorn."""
    celery = [str(VENV / "python"), "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING"]
    commands = {
        "sync": [*celery, "--beat", "--queues=celery", "--concurrency=1", "--hostname=sync@%h",
                 f"--schedule={log_dir / 'beat-schedule'}"],
        "ingest": [*celery, "--queues=ingest", "--hostname=ingest@%h"],
        "notify": [*celery, "--queues=notify", "--concurrency=1", "--hostname=notify@%h"],
        "web": [str(VENV / "gunicorn"), "-c", "python:config.gunicorn"],
    }  # fmt: skip
    procs = []
    for name, command in commands.items():
        log = open(log_dir / f"{name}.log", "w")  # noqa: SIM115 - the process holds it until the end
        procs.append(subprocess.Popen(command, cwd=ROOT, env={**env, "PORT": str(port)}, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True))  # fmt: skip
    return procs


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _wait(what: str, predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.5)


def _watch_syncs(ws_id: int, stop: threading.Event, seen: list) -> None:
    """Every distinct last_synced_at of the workspace during the run."""
    from django.db import connection

    from batches.models import Workspace

    while not stop.wait(0.5):
        at = Workspace.objects.filter(pk=ws_id).values_list("last_synced_at", flat=True).first()
        if at and (not seen or seen[-1] != at):
            seen.append(at)
    connection.close()


def _pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] * 1000 if len(values) > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", default="100,300,1000", help="comma-separated: one level after another")
    parser.add_argument("--duration", type=float, default=45,
                        help="seconds of polling measured per phase, once every tab is open")  # fmt: skip
    parser.add_argument("--interval", type=float, default=5, help="each tab polls this often (htmx: every 5s)")
    parser.add_argument("--open-rate", type=float, default=10,
                        help="tabs opened per second: N viewers over N / rate s (at least 10 s)")  # fmt: skip
    parser.add_argument(
        "--no-health",
        dest="health",
        action="store_false",
        help="leave out the health bar's poll that follows every other poll in a browser",
    )
    parser.add_argument("--batches", type=int, default=60, help="batches mirrored, of which --running run")
    parser.add_argument("--running", type=int, default=12)
    parser.add_argument("--big", type=int, default=100_000, help="results of the batch ingested during level 1")
    parser.add_argument("--sync-interval", type=float, default=10, help="SYNC_INTERVAL_SECONDS of the beat")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/batch_dashboard_load"),
    )
    parser.add_argument("--broker-url", default=os.environ.get("LOAD_BROKER_URL", "redis://127.0.0.1:6379/7"))
    parser.add_argument("--cache-url", default=os.environ.get("LOAD_CACHE_URL", "redis://127.0.0.1:6379/9"),
                        help="the shared cache (CACHE_URL); empty: none, every poll reads the database")  # fmt: skip
    args = parser.parse_args()
    args.levels = [int(n) for n in args.viewers.split(",")]
    args.brought_bar = {}  # by poll: whether the dashboard's last answer brought the health bar (the reference's too)

    var_dir = Path(tempfile.mkdtemp(prefix="load-"))
    env = {
        **os.environ, "DATABASE_URL": args.database_url, "CELERY_BROKER_URL": args.broker_url, "DEBUG": "false",
        "DASHBOARD_VAR_DIR": str(var_dir), "SECRET_KEY": secrets.token_urlsafe(50), "ANTHROPIC_API_KEY": "",
        "SYNC_INTERVAL_SECONDS": str(args.sync_interval), "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "127.0.0.1",
        "CACHE_URL": args.cache_url, "REDIS_URL": "",
    }  # fmt: skip
    os.environ.update(env)
    import redis

    for url in {args.broker_url, args.cache_url} - {""}:
        redis.Redis.from_url(url).flushdb()  # their own db numbers: tasks and entries of an earlier run go
    with emulator_process() as url:
        setup_django(args.database_url)
        from batches.models import Batch

        ws, running_ids = _seed(url, args)
        cookies = _cookies(max(args.levels))
        port = free_port()
        procs = _start(env, var_dir, port)
        try:
            _run(args, url, port, ws, running_ids, cookies, Batch)
        finally:
            _stop(procs)
    print(f"logs: {var_dir}")


def _run(args, url: str, port: int, ws, running_ids: list[str], cookies: list[str], Batch) -> None:
    def settled() -> bool:
        mirrored = Batch.objects.filter(workspace=ws).count() >= args.batches
        return mirrored and not Batch.objects.filter(workspace=ws).needing_ingest().exists()

    _wait("the first sync and its ingests", settled, 180)
    _wait("the web server", lambda: _up(port), 60)
    seen = {batch.pk: batch.state for batch in Batch.objects.filter(pk__in=running_ids)}  # as the page draws it
    print(f"{os.cpu_count()} cores; load average at the start {_load()}; gunicorn as bin/start runs it, "
          f"PostgreSQL, Redis {'broker and cache' if args.cache_url else 'broker, no shared cache'}")  # fmt: skip
    summary = []
    for level, n in enumerate(args.levels):
        phases = {}
        for mode in ("dashboard", "reference"):
            stats, stop, syncs, tabs_closed = Stats(), threading.Event(), [], asyncio.Event()
            watcher = threading.Thread(target=_watch_syncs, args=(ws.pk, stop, syncs), daemon=True)
            watcher.start()
            viewers = [
                Viewer(port, cookie, running_ids[i % len(running_ids)], seen[running_ids[i % len(running_ids)]],
                       args, tabs_closed, stats, reference=mode == "reference")
                for i, cookie in enumerate(cookies[:n])
            ]  # fmt: skip
            args.ramp = max(10.0, n / args.open_rate)
            started = time.monotonic()
            args.measure_from = started + args.ramp  # polls are measured once every tab is open
            loop = asyncio.new_event_loop()
            tabs = threading.Thread(target=loop.run_until_complete, args=(_open_tabs(viewers, tabs_closed),))
            tabs.start()
            big = big_at = done_at = None
            if mode == "dashboard" and level == 0 and args.big:
                time.sleep(args.duration / 4)
                big = control(url, "POST", "seed_batch", {"api_key": BENCH_KEY, "n_requests": args.big,
                                                          "status": "ended"})["id"]  # fmt: skip
                big_at = time.monotonic()
            while time.monotonic() - started < args.ramp + args.duration:
                time.sleep(1)
                if big and done_at is None and Batch.objects.filter(pk=big).exclude(results_ingested_at=None).exists():
                    done_at = time.monotonic()
            stop.set()
            loop.call_soon_threadsafe(tabs_closed.set)  # an asyncio.Event is set from its loop's thread only
            elapsed = time.monotonic() - args.measure_from
            tabs.join()  # at most 35 s: _open_tabs gives up on the tabs still waiting then
            loop.close()
            watcher.join(timeout=5)
            phases[mode] = (stats, elapsed, _load())
            if mode == "dashboard":
                _report_syncs(args, syncs, big, big_at, done_at, started)
        summary.append(_report(args, n, phases))
    print("\nsummary (×ref: the dashboard's figure over the minimal view's, same viewers, same run)")
    print(f"{'viewers':>7} {'errors':>6} {'ref errors':>10} {'req/s':>6} {'ref req/s':>9} {'polls p95 ms':>12} "
          f"{'×ref':>6} {'304 p50 ×ref':>12} {'304 p95 ×ref':>12}")  # fmt: skip
    for row in summary:
        print(f"{row['viewers']:>7} {row['errors']:>6} {row['ref_errors']:>10} {row['rps']:>6.0f} "
              f"{row['ref_rps']:>9.0f} {row['p95']:>12.1f} {row['p95_x']:>6.2f} {row['u50_x']:>12.2f} "
              f"{row['u95_x']:>12.2f}")  # fmt: skip


async def _open_tabs(viewers: list[Viewer], closed: asyncio.Event) -> None:
    """Every tab on this one event loop, in a thread of its own: the main thread meanwhile runs the phase (its
    Django queries would hold the loop up). Once the phase is over, a tab finishing its requests has 35 s."""
    tasks = [asyncio.create_task(viewer.run()) for viewer in viewers]
    await closed.wait()
    _done, pending = await asyncio.wait(tasks, timeout=35)
    for task in pending:
        task.cancel()
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(outcome, Exception):  # a bug of this script, not a failed request: those are counted
            print(f"a tab stopped: {type(outcome).__name__}: {outcome}", file=sys.stderr)


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _up(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
        return conn.getresponse().status == 200
    except OSError:
        return False


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def _report(args, n: int, phases: dict) -> dict:
    (stats, elapsed, load), (ref, ref_elapsed, ref_load) = phases["dashboard"], phases["reference"]
    ref_all = [v for values in ref.latency.values() for v in values]
    ref50, ref95 = _pct(ref_all, 50), _pct(ref_all, 95)
    print(f"\n{n} viewers polling every {args.interval:g} s, measured for {elapsed:.0f} s once every tab was open "
          f"(opened over {args.ramp:g} s: the page loads); "
          f"load average after: {load} (dashboard), {ref_load} (reference)")  # fmt: skip
    print(f"{'page':<15} {'requests':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} {'304 share':>9} "
          f"{'p50 ×ref':>8} {'p95 ×ref':>8}")  # fmt: skip
    rows = [(page, stats.latency.get(page, [])) for page in ("list page", "batch page", "list poll", "batch poll",
                                                              "health")]  # fmt: skip
    rows += [("unchanged (304)", stats.unchanged), ("reference", ref_all)]
    for page, values in rows:
        if not values:
            continue
        share = (stats.statuses[page].get(304, 0) / len(values)) if page in stats.statuses else None
        print(f"{page:<15} {len(values):>8} {_pct(values, 50):>7.1f} {_pct(values, 95):>7.1f} {_pct(values, 99):>7.1f} "
              f"{max(values) * 1000:>7.1f} {'' if share is None else format(share, '.0%'):>9} "
              f"{_ratio(_pct(values, 50), ref50):>8.2f} {_ratio(_pct(values, 95), ref95):>8.2f}")  # fmt: skip
    polls = [v for page in ("list poll", "batch poll", "health") for v in stats.latency.get(page, [])]
    for name, s, t in (("dashboard", stats, elapsed), ("reference", ref, ref_elapsed)):
        kinds = Counter(error.split(": ", 1)[1].split(":")[0] for error in s.errors)  # "HTTP 500", "TimeoutError"
        print(f"{name}: {s.requests / t:.1f} polls/s; {len(s.errors)} errors"
              + (f" ({', '.join(f'{n} {kind}' for kind, n in kinds.most_common())})" if s.errors else "")
              + f"; {s.reconnects} kept-alive connections closed by the server were opened again")  # fmt: skip
    sys.stdout.flush()
    return {
        "viewers": n, "errors": len(stats.errors), "ref_errors": len(ref.errors), "rps": stats.requests / elapsed,
        "ref_rps": ref.requests / ref_elapsed, "p95": _pct(polls, 95), "p95_x": _ratio(_pct(polls, 95), ref95),
        "u50_x": _ratio(_pct(stats.unchanged, 50), ref50), "u95_x": _ratio(_pct(stats.unchanged, 95), ref95),
    }  # fmt: skip


def _report_syncs(args, syncs: list, big, big_at, done_at, started) -> None:
    gaps = [(b - a).total_seconds() for a, b in zip(syncs, syncs[1:], strict=False)]
    if gaps:
        print(f"syncs: {len(syncs)} seen, gaps {min(gaps):.1f}-{max(gaps):.1f} s (mean {statistics.mean(gaps):.1f}) "
              f"for SYNC_INTERVAL_SECONDS={args.sync_interval:g}")  # fmt: skip
    if big is None:
        return
    if done_at is None:
        print(f"ingest of {args.big:,} results: not complete by the end of the phase")
    else:
        print(f"ingest of {args.big:,} results: complete {done_at - big_at:.0f} s after it was seeded "
              f"(at {big_at - started:.0f} s into the phase)")  # fmt: skip


if __name__ == "__main__":
    main()
