"""Soak: steady concurrent /predict traffic on both paths through the gateway, for minutes.

    python -m bench.soak [--seconds 300] [--concurrency 4] [--warmup 30]   (make soak)

Brings up its own gateway + TorchServe on free loopback ports (run/soak/<time>/), warms up, then
reports requests, errors and latency percentiles per path and per window, and the RSS of every
process after warm-up and at the end. Goals: 0 errors, no process growing more than 10% after
warm-up. Exits 1 when a goal is missed. tests/test_e2e_soak.py runs a short bounded version.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import requests

from bench.loadgen import Load, Measured, drive
from bench.servers import bench_stack, client, process_roles
from bench.side_by_side import RESULTS_DIR, review_pool
from deploy.stack import Stack
from core.settings import PROJECT_ROOT

PATHS = {"fast": True, "accurate": False}
RSS_GROWTH_GOAL = 0.10


def _bodies(reviews: list[str], fast: bool) -> list[dict]:
    """Alternating single reviews and lists of 2 to 8, like a mix of interactive and batch clients."""
    bodies, i, size = [], 0, 1
    while i + size <= len(reviews):
        chunk = reviews[i:i + size]
        bodies.append({"text": chunk[0] if size == 1 else chunk, "do_fast": fast})
        i, size = i + size, 1 if size == 8 else size + 1
    return bodies


def rss_by_process(stack: Stack, worker_models: dict) -> dict[str, int]:
    """{"role pid": RSS in MB} for every process of the stack, and this load generator."""
    roles = process_roles(stack, [], client(stack), worker_models)
    out = {}
    for role, pids in roles.items():
        for pid in pids:
            try:
                out[f"{role} {pid}"] = round(psutil.Process(pid).memory_info().rss / 2**20)
            except psutil.Error:
                pass
    return out


def _both_paths(loads: dict[str, Load], concurrency: int, seconds: float) -> dict[str, Measured]:
    with ThreadPoolExecutor(len(loads)) as pool:  # one event loop per path, both at once
        futures = {path: pool.submit(drive, load, concurrency, 0, seconds) for path, load in loads.items()}
        return {path: future.result() for path, future in futures.items()}


def soak(stack: Stack, reviews: list[str], seconds: float, concurrency: int, warmup: float,
         window: float = 30) -> dict:
    loads = {path: Load(f"{stack.gateway_url}/predict", _bodies(reviews, fast)) for path, fast in PATHS.items()}
    worker_models: dict = {}
    for load in loads.values():  # first use loads lazy state (kiwipiepy, BERT kernels): not soak material
        requests.post(load.url, json=load.bodies[-1], timeout=600).raise_for_status()
    _both_paths(loads, concurrency, warmup)
    rss_start = rss_by_process(stack, worker_models)
    windows: list[dict[str, Measured]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 1:
        windows.append(_both_paths(loads, concurrency, min(window, left)))
        print(f"  window {len(windows)}: " + ", ".join(
            f"{p} {m.requests} req {m.errors} err" for p, m in windows[-1].items()), flush=True)
    rss_end = rss_by_process(stack, worker_models)
    paths = {}
    for path in PATHS:
        merged = Measured.merge([w[path] for w in windows])
        paths[path] = {**merged.summary(1),
                       "windows": [w[path].summary(1) | {"seconds": round(w[path].seconds, 1)} for w in windows]}
        del paths[path]["reviews_per_s"]  # bodies mix 1 to 8 reviews: requests are the unit here
    growth = {name: round((rss_end[name] - mb) / mb, 4) for name, mb in rss_start.items() if name in rss_end and mb}
    return {"seconds": seconds, "warmup_seconds": warmup, "concurrency_per_path": concurrency, "paths": paths,
            "rss_mb": {"after_warmup": rss_start, "end": rss_end, "growth": growth}}


def goals_missed(report: dict) -> list[str]:
    missed = [f"{path}: {p['errors']} errors ({p.get('first_error')})"
              for path, p in report["paths"].items() if p["errors"]]
    missed += [f"{name} grew {100 * g:.1f}%" for name, g in report["rss_mb"]["growth"].items()
               if g > RSS_GROWTH_GOAL and not name.startswith("load generator")]
    return missed


def print_report(report: dict) -> None:
    print(f"\nsoak: {report['seconds']:.0f} s after {report['warmup_seconds']:.0f} s warm-up, "
          f"{report['concurrency_per_path']} clients per path")
    print(f"{'path':10} {'requests':>9} {'errors':>7} {'req/s':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}")
    for path, p in report["paths"].items():
        print(f"{path:10} {p['requests']:>9} {p['errors']:>7} {p['req_per_s']:>7} {p['p50_ms']:>8} "
              f"{p['p90_ms']:>8} {p['p99_ms']:>8}")
    rss = report["rss_mb"]
    print(f"\n{'process':45} {'RSS after warm-up':>18} {'RSS at end':>11} {'growth':>8}")
    for name, start in rss["after_warmup"].items():
        end = rss["end"].get(name)
        growth = rss["growth"].get(name)
        print(f"{name:45} {start:>15} MB {end if end is not None else '-':>8} MB "
              f"{'' if growth is None else f'{100 * growth:+.1f}%':>8}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300, help="measured soak after the warm-up")
    parser.add_argument("--warmup", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=4, help="clients per path")
    parser.add_argument("--window", type=float, default=30, help="seconds per progress window")
    parser.add_argument("--reviews", type=int, default=2000, help="NSMC test reviews to cycle through")
    args = parser.parse_args(argv)

    reviews = review_pool(args.reviews)
    run_dir = PROJECT_ROOT / "run" / "soak" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    stack = bench_stack(run_dir, {})
    try:
        print(f"starting gateway + TorchServe in {run_dir} ...", flush=True)
        stack.start(600)
        report = soak(stack, reviews, args.seconds, args.concurrency, args.warmup, args.window)
    finally:
        stack.stop()
    print_report(report)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"soak-{run_dir.name}.json"
    out.write_text(json.dumps(report, indent=2))
    missed = goals_missed(report)
    print(f"\nresults: {out}\n" + ("goals met: 0 errors, no process grew more than 10%" if not missed
                                    else "goals missed:\n  " + "\n  ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
