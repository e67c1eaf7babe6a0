"""Two stacks side by side, one with other settings, measured in alternating rounds through the gateway.

    python -m bench.settings_ab --setting live_signals=false shadow_rate=0     # the live signals' cost
    python -m bench.settings_ab --setting shadow_rate=0                       # shadowing on (default) / off
    python -m bench.settings_ab --setting calls_in_flight=0                   # merging concurrent requests
    python -m bench.settings_ab --setting prediction_log=false [--postgres]   # the prediction log's cost

Stack A runs the shipped settings, stack B the same plus `--setting`; both are up at once on free
loopback ports (run dirs under run/bench/), with the same archives. Each cell alternates A and B
round by round (who goes first rotates), so drift on a shared machine hits both alike. With
--postgres both keep their database in a throwaway PostgreSQL server (deploy/postgres.py). Prints
req/s, p50, p99 and the gateway's CPU a request for each, and B ÷ A.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time

from bench.loadgen import Measured, drive
from bench.servers import bench_stack, client, cpu_seconds, process_roles
from bench.side_by_side import setting_arg, loads, review_pool
from core.settings import PROJECT_ROOT
from deploy.postgres import postgres_server

CELLS = [("fast", 1, 1), ("fast", 1, 8), ("fast", 1, 32), ("fast", 32, 8), ("accurate", 1, 8)]
GATEWAY = ("gateway master", "gateway workers")


def measure(stack, path: str, size: int, concurrency: int, reviews, warmup: float, duration: float):
    load = loads("gateway", path == "fast", size, reviews, {"gateway": stack.gateway_url}, None)
    drive(load, concurrency, warmup, 0)
    roles = process_roles(stack, [], client(stack), {})
    before = cpu_seconds(roles)
    measured = drive(load, concurrency, 0, duration)
    after = cpu_seconds(roles)
    gateway = sum(after[r] - before[r] for r in GATEWAY if r in after)
    whole = sum(after[r] - before[r] for r in after if r != "load generator")
    return measured, gateway, whole


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setting", nargs="+", type=setting_arg, required=True, metavar="FIELD=VALUE")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--postgres", action="store_true", help="both stacks on a throwaway PostgreSQL server")
    args = parser.parse_args(argv)
    with postgres_server() if args.postgres else contextlib.nullcontext() as server:
        database = {"database_url": server.url} if server else {}
        return compare(args, database)


def compare(args, database: dict) -> int:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    stacks = {"A": bench_stack(PROJECT_ROOT / "run" / "bench" / f"ab-{stamp}-A", database),
              "B": bench_stack(PROJECT_ROOT / "run" / "bench" / f"ab-{stamp}-B", {**database, **dict(args.setting)})}
    reviews = review_pool(4096)
    print(f"A: shipped settings; B: {' '.join(f'{k}={v}' for k, v in args.setting)}", flush=True)
    try:
        for stack in stacks.values():
            stack.start(timeout=600)
        lines = ["| cell | A req/s | B req/s | B ÷ A | A p50 / p99 ms | B p50 / p99 ms | gateway CPU ms a request A / B |",
                 "|---|---:|---:|---:|---:|---:|---:|"]
        for turn, (path, size, concurrency) in enumerate(CELLS):
            runs = {name: [] for name in stacks}
            cpu = {name: [0.0, 0.0] for name in stacks}
            for round_ in range(args.rounds):
                order = ["A", "B"] if (turn + round_) % 2 == 0 else ["B", "A"]
                for name in order:
                    measured, gateway, whole = measure(stacks[name], path, size, concurrency, reviews,
                                                       args.warmup, args.duration)
                    runs[name].append(measured)
                    cpu[name][0] += gateway
                    cpu[name][1] += whole
            s = {name: Measured.merge(r).summary(size) for name, r in runs.items()}
            per = {name: 1000 * cpu[name][0] / max(s[name]["requests"], 1) for name in stacks}
            lines.append(f"| {path} x{size} c={concurrency} | {s['A']['req_per_s']} | {s['B']['req_per_s']} | "
                         f"{s['B']['req_per_s'] / s['A']['req_per_s']:.2f} | {s['A']['p50_ms']} / {s['A']['p99_ms']} | "
                         f"{s['B']['p50_ms']} / {s['B']['p99_ms']} | {per['A']:.2f} / {per['B']:.2f} |")
            print(lines[-1], flush=True)
    finally:
        for stack in stacks.values():
            stack.stop()
    print("\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
