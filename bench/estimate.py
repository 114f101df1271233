"""The pre-flight estimate of a large upload: how close the sample comes to the truth, and what it costs.

    .venv/bin/python bench/estimate.py [--requests 10000 100000] [--seeds 5]

For each size, a file of requests from a few words to a few pages long (a third with a system prompt, a
tenth on a second model) is uploaded as a draft and estimated as the worker does, against the emulator in
its own process. The truth is the emulator's own count of every request (its README's formula), so the
error printed is the sampling's alone. The emulator's count is linear in the size of the messages, so
the real API, whose tokens follow the text less tightly, will see a wider range than here.
Prints per run: estimate, 95% range, truth, error, count_tokens calls, seconds to estimate, and the most
memory the estimate itself allocated (traced in a second run).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import time
import tracemalloc

from common import BENCH_KEY, control, emulator_process, setup_django


def requests(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        words = rng.choice([rng.randint(3, 40), rng.randint(40, 400), rng.randint(400, 2500)])
        model = "claude-sonnet-4-6" if i % 10 == 0 else "claude-haiku-4-5"
        params = {"model": model, "max_tokens": rng.randint(16, 4096),
                  "messages": [{"role": "user", "content": "word " * words}]}  # fmt: skip
        if i % 3 == 0:
            params["system"] = "You grade essays. " * rng.randint(1, 30)
        lines.append(json.dumps({"custom_id": f"r{i}", "params": params}))
    return ("\n".join(lines) + "\n").encode()


def truth(data: bytes) -> int:
    from emulator.plan import CHARS_PER_TOKEN
    from emulator.validation import input_chars

    return sum(input_chars(json.loads(line)["params"]) // CHARS_PER_TOKEN for line in data.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    setup_django()
    from django.contrib.auth.models import User
    from django.db import connection

    from batches.models import Submission, Workspace
    from batches.services import estimates, submit, uploads

    with connection.cursor() as cursor:  # a dedicated database: start from empty tables
        cursor.execute("TRUNCATE batches_requestinput, batches_submissionpart, batches_submission, "
                       "batches_workspace CASCADE")  # fmt: skip
    user, _ = User.objects.get_or_create(username="bench")
    with emulator_process() as url:
        ws = Workspace(name="bench", base_url=url)
        ws.set_api_key(BENCH_KEY)
        ws.save()
        print("requests | seed | estimate | 95% range | truth | error | count_tokens calls | estimate s | peak alloc")
        for n in args.requests:
            for seed in range(args.seeds):
                data = requests(n, seed)
                real = truth(data)
                f = io.BytesIO(data)
                made = submit.prepare_upload(ws, user, f, uploads.validate(f), label="", filename="", again=True)
                del data, f
                pk = made.submission.pk
                control(url, "POST", "reset_calls", {})
                start = time.perf_counter()
                estimates.estimate(pk)
                elapsed = time.perf_counter() - start
                calls = control(url, "GET", "calls").get("count_tokens", 0)
                preview = estimates.preview(Submission.objects.get(pk=pk))
                # Again, traced (slower): what the estimate itself holds at its peak.
                Submission.objects.filter(pk=pk).update(estimated_at=None)
                tracemalloc.start()
                estimates.estimate(pk)
                peak = tracemalloc.get_traced_memory()[1] / 2**20
                tracemalloc.stop()
                error = (preview.input_tokens - real) / real
                print(f"{n:,} | {seed} | {preview.input_tokens:,} | {preview.low:,}–{preview.high:,} | {real:,} | "
                      f"{error:+.3%} | {calls} | {elapsed:.1f} | {peak:.1f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
