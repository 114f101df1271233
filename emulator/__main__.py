"""CLI: python -m emulator --port 8765 --scenario demo --seed 1 --speed 1"""

from __future__ import annotations

import argparse
import gc
import secrets
import signal
import sys
import threading

from . import DEMO_ADMIN_KEY, DEMO_API_KEY, Emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator", description="Anthropic Message Batches API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--scenario", default="demo", choices=("empty", "demo"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed", type=float, default=1.0, help="emulated seconds per real second (0 = frozen)")
    parser.add_argument("--live-counts", action="store_true", help="move request_counts while processing")
    parser.add_argument("--api-key", action="append", default=[], help="extra workspace key (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument(
        "--same-ids",
        action="store_true",
        help="the seed's ids at every start (by default a restart never reuses an id, as the API)",
    )
    args = parser.parse_args(argv)

    emu = Emulator(
        seed=args.seed,
        speed=args.speed,
        scenario=args.scenario,
        live_counts=args.live_counts,
        verbose=args.verbose,
        id_salt="" if args.same_ids else secrets.token_hex(8),
    )
    for i, key in enumerate(args.api_key):
        emu.add_workspace(key, f"workspace-{i + 1}")
    stop = threading.Event()
    # The main thread only waits; a signal handler setting the event is all a clean shutdown needs.
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # What the emulator stores lives until deleted, and it is mostly acyclic (freed by reference counting). With the
    # collector's default thresholds every other create of 10,000 requests paid a full collection that walked all of
    # it: 63 ms, then 90 ms growing to 166 ms after forty creates. The API has no such rhythm, and the benchmarks timed
    # it as the API's own time. Young objects are still collected (cycles among them included), at 100,000 new objects
    # instead of 700; older ones rarely.
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    url = emu.start(args.host, args.port)
    print(f"Anthropic batches emulator listening on {url}", flush=True)
    print(
        f"  scenario={args.scenario} seed={args.seed} speed={args.speed} live_counts={args.live_counts}",
        flush=True,
    )
    if args.scenario == "demo":
        print(f"  demo API key: {DEMO_API_KEY}", flush=True)
        print(f"  demo admin key (cost report): {DEMO_ADMIN_KEY}", flush=True)
    print(f"  export ANTHROPIC_BASE_URL={url}", flush=True)
    while not stop.wait(0.5):
        pass
    emu.stop()
    print("emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
