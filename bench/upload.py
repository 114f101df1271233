"""Upload checks are bounded: time linear in a long line, memory flat, a gzip of newlines stopped early.

    .venv/bin/python bench/upload.py [--sizes 64,128,250]

Each case runs in a fresh process (its peak RSS is its own): `validate()` of
- one plain-file line of N MB (a valid request, so it is also parsed), read through Django's `File` as an
  upload is;
- a gzip holding 4 GiB of newlines (SUBMIT_MAX_BLANK_LINES stops it);
- a plain line of N MB over SUBMIT_MAX_LINE_BYTES (1 MB here): skipped as read, never held.
The reference, measured in the same run, is hashing the same file in 1 MiB chunks (the least any check must do);
ratios to it are what to compare across machines. Goal: linear, under 10 s per 256 MB, flat memory when a line
is not kept.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARAMS = {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]}


def _line_file(path: Path, mb: int) -> None:
    head = json.dumps({"custom_id": "big", "params": {**PARAMS, "system": ""}})[:-3]  # ...,"system": "
    with path.open("wb") as out:
        out.write(head.encode())
        block = b"x" * (1024 * 1024)
        for _ in range(mb):
            out.write(block)
        out.write(b'"}}\n')


def _newlines_gzip(path: Path, gib: int) -> None:
    block = b"\n" * (16 * 1024 * 1024)
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(json.dumps({"custom_id": "a", "params": PARAMS}).encode() + b"\n")
        for _ in range(gib * 64):
            out.write(block)


def _child(case: str, path: str) -> None:
    """Run in a fresh process: one measured call, printed as JSON."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 40)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.files import File

    from batches.services import uploads

    if case == "skipped":
        settings.SUBMIT_MAX_LINE_BYTES = 1024 * 1024
    started = time.perf_counter()
    if case == "reference":
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1024 * 1024):
                digest.update(chunk)
        outcome = "hashed"
    else:
        with open(path, "rb") as raw:
            v = uploads.validate(File(raw, name=Path(path).name))
        outcome = "ok" if v.ok else v.errors[0].message[:90]
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb, "outcome": outcome}))


def _measure(case: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", case, str(path)], capture_output=True, text=True,
                         check=True, cwd=ROOT)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="64,128,250", help="MB of the single-line files")
    parser.add_argument("--gib", type=int, default=4, help="GiB of newlines in the gzip")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    print(f"load average {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} cores")
    baseline = _measure("reference", Path(__file__))  # an interpreter with Django loaded: the RSS floor
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'case':<34}{'seconds':>9}{'× hash':>8}{'s / 256 MB':>12}{'peak RSS MB':>13}  outcome")
        for mb in [int(s) for s in args.sizes.split(",")]:
            path = Path(tmp) / f"line-{mb}.jsonl"
            _line_file(path, mb)
            ref = _measure("reference", path)
            for case, label in (("kept", f"one {mb} MB line, checked"), ("skipped", f"one {mb} MB line, over 1 MB")):
                got = _measure(case, path)
                print(f"{label:<34}{got['seconds']:>9.2f}{got['seconds'] / ref['seconds']:>8.1f}"
                      f"{got['seconds'] * 256 / mb:>12.2f}{got['peak_rss_mb']:>13.0f}  {got['outcome']}")  # fmt: skip
            path.unlink()
        path = Path(tmp) / "newlines.jsonl.gz"
        made = time.perf_counter()
        _newlines_gzip(path, args.gib)
        made = time.perf_counter() - made
        got = _measure("kept", path)
        label = f"gzip of {args.gib} GiB of newlines ({path.stat().st_size / 1e6:.1f} MB)"
        print(f"{label:<34}{got['seconds']:>9.2f}{'':>8}{'':>12}{got['peak_rss_mb']:>13.0f}  {got['outcome']}")
        print(f"(making that gzip took {made:.1f} s; the RSS floor, Django loaded: {baseline['peak_rss_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
