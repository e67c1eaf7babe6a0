"""What the feedback intake holds: POST /feedback writes per second on a live stack, on SQLite (the
default) or a throwaway PostgreSQL server (--postgres, deploy/postgres.py).

    python -m bench.feedback_intake [--postgres] [--duration 5]

Cells: single items at 8 in flight, and batches of 100 and 500 items at 4 in flight; every item is
new (each client sends its own share of a pool of unique texts), so each is an insert committed
before it is answered. Prints
items/s and request latency. The /predict cost of the prediction log is `python -m bench.settings_ab
--setting prediction_log=false [--postgres]`.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time

from bench.loadgen import Load, drive
from bench.servers import bench_stack
from core.models import FAST
from core.settings import PROJECT_ROOT
from deploy.postgres import postgres_server

TOKEN = "bench-feedback-token"
CELLS = [(1, 8), (100, 4), (500, 4)]  # (items per request, requests in flight)


def bodies(size: int, count: int, tag: str) -> list[dict]:
    if size == 1:
        return [{"text": f"{tag} 리뷰 {i} 정말 재밌다", "label": i % 2} for i in range(count)]
    return [{"items": [{"text": f"{tag} 리뷰 {r}-{i} 정말 재밌다", "label": i % 2} for i in range(size)]}
            for r in range(count)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL server instead of SQLite")
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args(argv)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    with postgres_server() if args.postgres else contextlib.nullcontext() as server:
        stack = bench_stack(PROJECT_ROOT / "run" / "bench" / f"feedback-{stamp}",
                            {"served_models": [FAST], "feedback_token": TOKEN, "feedback_rate_limit": "100000/second",
                             "feedback_max_rows": 50_000_000,
                             **({"database_url": server.url} if server else {})})
        lines = [f"database: {'PostgreSQL' if server else 'SQLite'}",
                 "| items a request | in flight | items/s | p50 ms | p99 ms | errors |", "|---:|---:|---:|---:|---:|---:|"]
        try:
            stack.start(timeout=300)
            for size, concurrency in CELLS:
                count = 100_000 if size == 1 else 200_000 // size
                load = Load(f"{stack.gateway_url}/feedback", bodies(size, count, f"{stamp}-{size}"),
                            {"Authorization": f"Bearer {TOKEN}"}, ok_statuses=(200, 201))
                s = drive(load, concurrency, 0.5, args.duration).summary(size)
                lines.append(f"| {size} | {concurrency} | {s['reviews_per_s']} | {s['p50_ms']} | {s['p99_ms']} | "
                             f"{s['errors']} |")
                print(lines[-1], flush=True)
        finally:
            stack.stop()
    print("\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
