"""The pass-through's overhead: the official SDK creating a batch of 10,000 requests, and streaming 100,000 results,
through the dashboard's /anthropic vs straight to the emulator, in the same run (a ratio; goal <= 1.2 for both),
and the server's peak RSS before and after (flat memory: the body is spooled to disk, the results streamed).
A create keeps the body whole before forwarding it; its split into a row per request is the worker's, after the
answer: no worker runs here, so this script splits each kept body itself and times that too (off the client's path).

    .venv/bin/python bench/proxy.py [--requests 10000] [--results 100000] [--runs 3]

The dashboard runs under gunicorn (one worker, four threads) on PostgreSQL (BENCH_DATABASE_URL), the emulator in its
own process. Under load the figures move; the ratios are what to compare.

Straight to the emulator on loopback, 117 MB of results arrive at about 2 GB/s: there the pass-through's second
userspace hop (read from the emulator, written to the client) is most of the time. So a second, labelled reference
streams the same results with the emulator's answers paced at --paced-mb-per-s (as from a remote API), both
ways through the same pacing relay; the first measurement is kept as it is. A third reference, in the same turns,
streams them through a bare TCP relay in its own process: what any second hop that reads the bytes costs on this
machine (an HTTPS pass-through must read them, to decrypt them). Last, the batch is ingested and streamed again:
the pass-through then serves the kept copy from PostgreSQL (as it does once the dashboard has the results), beside
the emulator streaming them from memory.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import httpcore2._sync.http11
from common import BENCH_DATABASE_URL, BENCH_KEY, ROOT, control, emulator_process, free_port, setup_django

# Its own database (this script empties it), unless BENCH_DATABASE_URL names one for this run.
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL") or BENCH_DATABASE_URL.rsplit("/", 1)[0] + "/batch_dashboard_proxy"
SECRET_KEY = "bench-" + "x7Qp2" * 12  # the server and this script share it: the workspace key is encrypted with it


def server_rss_mb(master: int) -> tuple[float, float]:
    """(current, peak) resident memory of the gunicorn worker (the master's one child), MB."""
    pid = int(open(f"/proc/{master}/task/{master}/children").read().split()[0])
    fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status").read().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def paced_relay(upstream: str, bytes_per_second: float) -> str:
    """A TCP relay in front of `upstream` (http://host:port) that sends its answers on at `bytes_per_second` per
    connection (requests go through as they come): a remote API's rate, for both the direct and the proxied calls."""
    host, port = upstream.removeprefix("http://").split(":")
    listener = socket.create_server(("127.0.0.1", 0))

    def pump(src: socket.socket, dst: socket.socket, rate: float | None) -> None:
        due = time.perf_counter()
        try:  # unpaced, as much as has arrived (up to 1 MB): the fewest calls, the fastest a relay can go
            while data := src.recv(1 << 16 if rate else 1 << 20):
                dst.sendall(data)
                if rate:
                    due = max(due, time.perf_counter()) + len(data) / rate
                    time.sleep(max(0.0, due - time.perf_counter()))
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def accept() -> None:
        while True:
            client, _ = listener.accept()
            server = socket.create_connection((host, int(port)))
            threading.Thread(target=pump, args=(client, server, None), daemon=True).start()
            threading.Thread(target=pump, args=(server, client, bytes_per_second), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}"


def _streams(runs: int, batch_id: str, clients: dict, size: int | None = None) -> tuple[dict[str, list], int]:
    """Seconds to stream the batch's results through each client, `runs` times, each run in another order; and
    their size (checked if given)."""
    seconds: dict[str, list] = {name: [] for name in clients}
    names = list(clients)
    for run in range(runs):
        for name in names[run % len(names) :] + names[: run % len(names)]:
            start = time.perf_counter()
            with clients[name].messages.batches.with_streaming_response.results(batch_id) as response:
                got = sum(len(chunk) for chunk in response.iter_bytes())
            seconds[name].append(time.perf_counter() - start)
            assert size is None or got == size, (name, got, size)
            size = got
    return seconds, size or 0


def _in_turn(run: int, first: tuple, second: tuple) -> tuple[tuple, tuple]:
    return (first, second) if run % 2 == 0 else (second, first)


@contextlib.contextmanager
def bare_relay(upstream: str):
    """The same unpaced TCP relay in its own process (as the pass-through is): the floor of any second hop that
    reads the bytes in user space, as every HTTPS pass-through must (recv and send, no HTTP, no database)."""
    proc = subprocess.Popen([sys.executable, __file__, "--relay-only", upstream], stdout=subprocess.PIPE, text=True)
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.kill()
        proc.wait()


def start_server(var_dir: str) -> tuple[subprocess.Popen, str]:
    for folder in ("queue", "processed", "control"):  # the embedded broker's, as `manage.py prepare` makes them
        os.makedirs(os.path.join(var_dir, "broker", folder), exist_ok=True)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": DATABASE_URL, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "false",
           "SECRET_KEY": SECRET_KEY, "ALLOWED_HOSTS": "127.0.0.1", "DASHBOARD_VAR_DIR": var_dir,
           "LOG_LEVEL": "WARNING"}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1",
                             "--threads", "4", "--timeout", "600"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2)
            break
        except OSError:
            time.sleep(0.1)
    return proc, url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--results", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--paced-mb-per-s", type=float, default=50.0, help="the second reference's rate; 0: none")
    parser.add_argument("--relay-only", help=argparse.SUPPRESS)  # bare_relay's process: relay to this upstream
    args = parser.parse_args()
    if args.relay_only:
        print(paced_relay(args.relay_only, 0), flush=True)
        threading.Event().wait()
    os.environ["SECRET_KEY"] = SECRET_KEY
    setup_django(DATABASE_URL)
    import anthropic
    from django.contrib.auth.models import User

    from batches.models import Batch, KeptBody, RequestInput, Submission, Workspace
    from batches.services import ingest, kept_bodies, sync, tokens

    # This process's SDK clients stand for a user's script: the SDK as it comes, reading 64 KB at a time (importing
    # batches.client above set the dashboard's own 1 MB reads for the whole process).
    httpcore2._sync.http11.HTTP11Connection.READ_NUM_BYTES = 64 * 1024

    with emulator_process() as emu, tempfile.TemporaryDirectory() as var_dir:
        RequestInput.objects.all().delete()
        Submission.objects.all().delete()
        Batch.objects.all().delete()
        Workspace.objects.filter(name="bench").delete()
        ws = Workspace(name="bench", base_url=emu)
        ws.set_api_key(BENCH_KEY)
        ws.save()
        user, _ = User.objects.get_or_create(username="bench-proxy", defaults={"is_superuser": True})
        _, token = tokens.issue(user, name="bench", workspaces=[ws], role="Operator")
        proc, url = start_server(var_dir)
        try:
            direct = anthropic.Anthropic(base_url=emu, api_key=BENCH_KEY, max_retries=0, timeout=600)
            proxied = anthropic.Anthropic(base_url=f"{url}/anthropic", api_key=token, max_retries=0, timeout=600)
            # Warm as a running server is: each of the four threads with its database connection, the upstream
            # connection pool; the first call of a cold thread otherwise pays for connecting, not for the proxy.
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda c: c.messages.batches.list(limit=1), [proxied] * 16 + [direct] * 4))
            # This process's collector set apart from what it has loaded (Django, the SDK's types), as the emulator's
            # is (emulator/__main__.py): its full passes otherwise landed on one side or the other at random (fourteen
            # creates straight to the emulator: a median of 176 ms in one run, 114 ms in each of two settled ones).
            gc.collect()
            gc.freeze()
            rss_before = server_rss_mb(proc.pid)
            create = {"direct": [], "proxy": []}
            for run in range(args.runs):
                requests = [{"custom_id": f"r{run}-{i}", "params": {"model": "claude-sonnet-4-5", "max_tokens": 64,
                             "messages": [{"role": "user", "content": f"question {i} of run {run}"}]}}
                            for i in range(args.requests)]  # fmt: skip
                # Each run in the other order: the emulator's own time to create moved by up to 100 ms from one
                # create to the next (140-260 ms), so a fixed order could favour one side.
                for name, client in _in_turn(run, ("direct", direct), ("proxy", proxied)):
                    start = time.perf_counter()
                    client.messages.batches.create(requests=requests)
                    create[name].append(time.perf_counter() - start)
                    for r in requests:  # a different body each time: never a retry of the same one
                        r["custom_id"] += "x"
            rss_after_create = server_rss_mb(proc.pid)
            splits = []
            for part_id in list(KeptBody.objects.values_list("part_id", flat=True).distinct()):
                start = time.perf_counter()
                kept_bodies.split(part_id)  # as the worker's split_kept_body task does
                splits.append(time.perf_counter() - start)
            kept_rows = RequestInput.objects.filter(part__submission__created_by=user).exclude(batch=None).count()
            batch_id = control(emu, "POST", "seed_batch", {"api_key": BENCH_KEY, "n_requests": args.results,
                                                           "status": "ended", "line_bytes": 1200})["id"]  # fmt: skip
            with bare_relay(emu) as relay_url:
                relayed = anthropic.Anthropic(base_url=relay_url, api_key=BENCH_KEY, max_retries=0, timeout=600)
                stream, size = _streams(args.runs, batch_id, {"direct": direct, "proxy": proxied, "relay": relayed})
            paced = {"direct": [], "proxy": []}
            if args.paced_mb_per_s:
                relay = paced_relay(emu, args.paced_mb_per_s * 1e6)
                Workspace.objects.filter(pk=ws.pk).update(base_url=relay)  # the server reads it per call
                paced_direct = anthropic.Anthropic(base_url=relay, api_key=BENCH_KEY, max_retries=0, timeout=600)
                paced, _ = _streams(args.runs, batch_id, {"direct": paced_direct, "proxy": proxied}, size)
            # Once the dashboard has ingested the batch, the pass-through serves its kept copy (the API is not asked).
            Workspace.objects.filter(pk=ws.pk).update(base_url=emu)
            sync.sync_workspace(ws.pk, full=True)
            assert ingest.ingest_batch(batch_id).complete
            kept, _ = _streams(args.runs, batch_id, {"direct": direct, "proxy": proxied}, size)
            rss_after_stream = server_rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores; medians of {args.runs}")
    for label, figures in ((f"create {args.requests:,} requests", create),
                           (f"stream {args.results:,} results ({size / 1e6:.0f} MB)", stream),
                           (f"stream them at {args.paced_mb_per_s:g} MB/s (the paced reference)", paced),
                           ("stream them once ingested (the pass-through serves its kept copy)", kept)):  # fmt: skip
        if not figures["direct"]:
            continue
        d, p = statistics.median(figures["direct"]), statistics.median(figures["proxy"])
        paired = statistics.median(b / a for a, b in zip(figures["direct"], figures["proxy"], strict=True))
        print(
            f"{label}: direct {d:.2f} s, through the pass-through {p:.2f} s, ratio {p / d:.2f}; median of each "
            f"run's own ratio {paired:.2f} (goal <= 1.2)"
        )
        if figures.get("relay"):
            r = statistics.median(figures["relay"])
            print(
                f"  the same through a bare relay in its own process (no HTTP, no database: the floor of a second "
                f"hop in user space): {r:.2f} s, ratio {r / d:.2f}; the pass-through / the bare relay {p / r:.2f}"
            )
    print(
        f"then each kept body split into its rows (the worker's, after the answer): median "
        f"{statistics.median(splits):.2f} s; {kept_rows:,} rows linked to their batches ({len(splits)} bodies)"
    )
    print(f"server RSS MB (current, peak): start {rss_before[0]:.0f}, {rss_before[1]:.0f}; after creates "
          f"{rss_after_create[0]:.0f}, {rss_after_create[1]:.0f}; after streams {rss_after_stream[0]:.0f}, "
          f"{rss_after_stream[1]:.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
