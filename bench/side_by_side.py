"""Gateway → TorchServe, TorchServe called directly, a seed-style Flask app and an in-process ASGI
peer (bench/asgi_peer.py), measured in one run.

    make bench                                   # = python -m bench.side_by_side
    make bench BENCH_ARGS=--quick                # shorter cells, for trials
    python -m bench.side_by_side --paths fast --sizes 1 --concurrency 8 --duration 5

Brings up its own TorchServe + gateway and the baselines on free loopback ports (run dir under
run/bench/), drives each cell with bench.loadgen, alternating targets cell by cell, and stops
everything it started on exit, error or Ctrl-C. Every cell records each process role's CPU a request;
PSS is read once the matrix is done. Prints a table; writes bench/results/<stamp>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

import requests

from bench import report
from bench.loadgen import Load, Measured, drive
from bench.rss import PeakRss
from bench.servers import (ACCURATE, FAST, UNBATCHED, baselines, bench_stack, client, cpu_seconds, pooled_connections,
                           process_roles, pss_mb, register_unbatched, scale)
from core.models import MODELS
from core.settings import PROJECT_ROOT, Settings
from handlers.text import clean_text
from train.data import load_split

TARGETS = ("gateway", "torchserve", "seed-style", "asgi-peer")
# (path, reviews a request, clients): single reviews at 1, 8 and 32 clients, the client's batch at 8.
DEFAULT_CELLS = [("fast", 1, 1), ("fast", 1, 8), ("fast", 1, 32), ("fast", 32, 8),
                 ("accurate", 1, 1), ("accurate", 1, 8), ("accurate", 32, 8)]
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"


def review_pool(n: int, data_dir=None) -> list[str]:
    """NSMC test reviews the gateway accepts (blank ones are a 400 there)."""
    return [t for t in load_split("test", data_dir).texts if clean_text(t).strip()][:n]


def loads(target: str, fast: bool, size: int, reviews: list[str], urls: dict, key: str | None) -> Load:
    chunks = [reviews[i:i + size] for i in range(0, len(reviews) - size + 1, size)]
    if target == "torchserve":
        model = FAST if fast else ACCURATE
        return Load(f"{urls['torchserve']}/predictions/{model}", [{"text": c} for c in chunks],
                    {"Authorization": f"Bearer {key}"} if key else {})
    return Load(f"{urls[target]}/predict", [{"text": c, "do_fast": fast} for c in chunks])


def prime(args, urls: dict, key: str | None, reviews: list[str], models: list[str]) -> None:
    """One request per target and path, waited for: first use loads lazy state (kiwipiepy's analyzer)."""
    for target in args.targets:
        for fast in (True, False):
            load = loads(target, fast, 32, reviews, urls, key)
            requests.post(load.url, json=load.bodies[0], headers=load.headers, timeout=600).raise_for_status()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    for model in models:
        requests.post(f"{urls['torchserve']}/predictions/{model}", json={"text": reviews[:32]}, headers=headers,
                      timeout=600).raise_for_status()


def cells(args) -> list[tuple[str, int, int]]:
    if args.paths is None and args.sizes is None and args.concurrency is None:
        return DEFAULT_CELLS
    return [(p, s, c) for p in args.paths or list(MODELS) for s in args.sizes or [1, 32]
            for c in args.concurrency or [1, 8, 32]]


def matrix(args, urls: dict, key: str | None, reviews: list[str], roles) -> list[dict]:
    """Every cell, each target in turn; `roles()` gives {role: [pids]} for CPU a request."""
    rows = []
    for turn, (path, size, concurrency) in enumerate(cells(args)):
        targets = [t for t in TARGETS if t in args.targets]
        runs: dict[str, list[Measured]] = {t: [] for t in targets}
        cpu: dict[str, dict[str, float]] = {t: {} for t in targets}
        for round_ in range(args.rounds):
            k = (turn + round_) % len(targets)  # who goes first rotates, round by round and cell by cell
            for target in targets[k:] + targets[:k]:
                load = loads(target, path == "fast", size, reviews, urls, key)
                drive(load, concurrency, args.warmup, 0)
                pids = roles()
                before = cpu_seconds(pids)
                runs[target].append(drive(load, concurrency, 0, args.duration))
                for role, seconds in cpu_seconds(pids).items():
                    cpu[target][role] = cpu[target].get(role, 0.0) + seconds - before.get(role, 0.0)
        for target in targets:
            measured = Measured.merge(runs[target])
            per_request = {role: 1000 * seconds / max(measured.requests, 1) for role, seconds in cpu[target].items()}
            row = {"path": path, "size": size, "concurrency": concurrency, "target": target,
                   **measured.summary(size),
                   "cpu_ms_per_request": {role: round(ms, 3) for role, ms in sorted(per_request.items()) if ms >= 0.005}}
            rows.append(row)
            print(report.progress(row), flush=True)
    return rows


def batching(args, ts_url: str, key: str | None, reviews: list[str]) -> dict:
    """Dynamic batching on/off for the accurate model at one concurrency, alternating, single reviews."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    bodies = [{"text": [r]} for r in reviews]
    merged: dict[str, list[Measured]] = {ACCURATE: [], UNBATCHED: []}
    for round_ in range(args.batching_rounds):
        for model in (ACCURATE, UNBATCHED) if round_ % 2 == 0 else (UNBATCHED, ACCURATE):
            merged[model].append(drive(Load(f"{ts_url}/predictions/{model}", bodies, headers),
                                       args.batching_concurrency, args.warmup, args.duration))
    out = {"concurrency": args.batching_concurrency, "size": 1}
    for model, runs in merged.items():
        out[model] = Measured.merge(runs).summary(1)
    out["ratio"] = report.ratio(out[ACCURATE]["req_per_s"], out[UNBATCHED]["req_per_s"])
    print(report.batching_line(out), flush=True)
    return out


def auto_vs_accurate(args, gateway_url: str, reviews: list[str], roles) -> list[dict]:
    """The gateway's `auto` cascade against its accurate path, alternating rounds, once per request size.

    Each mode's CPU a review, per process role (`roles()`: {role: [pids]}), says where the time goes."""
    out = []
    for size in args.auto_sizes:
        chunks = [reviews[i:i + size] for i in range(0, len(reviews) - size + 1, size)]
        merged: dict[str, list[Measured]] = {"auto": [], "accurate": []}
        cpu: dict[str, dict[str, float]] = {"auto": {}, "accurate": {}}
        for round_ in range(args.auto_rounds):
            for mode in ("auto", "accurate") if round_ % 2 == 0 else ("accurate", "auto"):
                load = Load(f"{gateway_url}/predict", [{"text": c, "mode": mode} for c in chunks])
                drive(load, args.auto_concurrency, args.warmup, 0)
                pids = roles()
                before = cpu_seconds(pids)
                merged[mode].append(drive(load, args.auto_concurrency, 0, args.duration))
                for role, seconds in cpu_seconds(pids).items():
                    cpu[mode][role] = cpu[mode].get(role, 0.0) + seconds - before.get(role, 0.0)
        cell = {"concurrency": args.auto_concurrency, "size": size}
        for mode, runs in merged.items():
            cell[mode] = Measured.merge(runs).summary(size)
            scored = sum(r.requests for r in runs) * size
            cell[mode]["cpu_ms_per_review"] = {role: round(1000 * seconds / max(scored, 1), 3)
                                               for role, seconds in sorted(cpu[mode].items()) if seconds > 0}
        cell["ratio"] = report.ratio(cell["auto"]["reviews_per_s"], cell["accurate"]["reviews_per_s"])
        print(report.auto_line(cell), flush=True)
        out.append(cell)
    return out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 s warm-up and 3 s per cell (trials)")
    parser.add_argument("--warmup", type=float, default=1.5, help="seconds of load before each measured window")
    parser.add_argument("--duration", type=float, default=6.0, help="measured seconds per round")
    parser.add_argument("--rounds", type=int, default=2, help="measured rounds per target and cell")
    parser.add_argument("--paths", nargs="+", choices=list(MODELS),
                        help="with --sizes/--concurrency: their cross product instead of the default cells")
    parser.add_argument("--sizes", nargs="+", type=int, help="reviews per request")
    parser.add_argument("--concurrency", nargs="+", type=int)
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--batching-concurrency", type=int, default=16)
    parser.add_argument("--batching-rounds", type=int, default=2, help="alternating rounds per model; 0 skips")
    parser.add_argument("--auto-rounds", type=int, default=2, help="alternating rounds of auto vs accurate; 0 skips")
    parser.add_argument("--auto-concurrency", type=int, default=8)
    parser.add_argument("--auto-sizes", nargs="+", type=int, default=[1, report.AUTO_JUDGED_SIZE],
                        help="reviews per request for auto vs accurate (default: single, and the client's batch)")
    parser.add_argument("--gateway-workers", type=int, help="override gunicorn workers (SENTIMENT_GATEWAY_WORKERS)")
    parser.add_argument("--setting", nargs="+", type=setting_arg, default=[], metavar="FIELD=VALUE",
                        help="settings of the stack under test, e.g. live_signals=false shadow_rate=0 "
                             "calls_in_flight=0 (core/settings.py field names)")
    parser.add_argument("--workers", nargs="+", type=_workers, default=[], metavar="MODEL=N",
                        help="scale TorchServe workers after start, e.g. fast=2 (trials; the shipped count is in model_config/)")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="set OMP_NUM_THREADS for every server (trials); 0 keeps the shipped settings "
                             "(model_config/accurate.yaml: threads 1)")
    parser.add_argument("--reviews", type=int, default=4096, help="distinct NSMC test reviews to send")
    parser.add_argument("--data-dir")
    parser.add_argument("--out", type=Path, help="results JSON (default bench/results/side_by_side-<time>.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.warmup, args.duration, args.rounds = 1.0, 3.0, 1
    return args


def _workers(value: str) -> tuple[str, int]:
    kind, _, n = value.partition("=")
    if kind not in MODELS or not n.isdigit():
        raise argparse.ArgumentTypeError("expected fast=N or accurate=N")
    return kind, int(n)


def setting_arg(value: str) -> tuple[str, str]:
    field, _, raw = value.partition("=")
    if field not in Settings.model_fields or not raw:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE with a field of core/settings.py, got {value!r}")
    return field, raw


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)  # stop what we started on `kill` too, not only Ctrl-C
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    run_dir = PROJECT_ROOT / "run" / "bench" / stamp
    overrides = {**({"gateway_workers": args.gateway_workers} if args.gateway_workers else {}), **dict(args.setting)}
    if args.torch_threads:
        os.environ["OMP_NUM_THREADS"] = str(args.torch_threads)  # inherited by every server we start
    stack, apps = bench_stack(run_dir, overrides), [a for a in baselines(run_dir) if a.name in args.targets]
    reviews = review_pool(args.reviews, args.data_dir)
    started = time.time()
    result = {"started": stamp, "command": " ".join(sys.argv), "args": {k: str(v) for k, v in vars(args).items()},
              "machine": report.machine(), "loadavg_before": os.getloadavg()}
    try:
        print(f"starting TorchServe, gateway and {', '.join(a.name for a in apps)} under {run_dir} ...", flush=True)
        for app in apps:
            app.start()
        stack.start(timeout=600)
        ts = client(stack)
        unbatched = register_unbatched(ts, stack) if args.batching_rounds else None
        for kind, n in args.workers:
            scale(ts, kind, n)
        urls = {"gateway": stack.gateway_url, "torchserve": stack.inference_url, **{a.name: a.url for a in apps}}
        key = ts.keys.get("inference")
        result["settings"] = report.settings(stack, ts, unbatched)
        prime(args, urls, key, reviews, [UNBATCHED] if unbatched else [])
        worker_models: dict[int, str] = {}
        roles = lambda: process_roles(stack, apps, ts, worker_models)  # noqa: E731
        with PeakRss(roles) as rss:
            result["cells"] = matrix(args, urls, key, reviews, roles)
            result["pss_mb"] = pss_mb(roles())
            result["gateway_pooled_connections"] = pooled_connections(stack)
            if args.batching_rounds:
                result["batching"] = batching(args, stack.inference_url, key, reviews)
            if args.auto_rounds:
                result["auto"] = auto_vs_accurate(args, stack.gateway_url, reviews, roles)
        result["peak_rss"] = rss.report()
    except KeyboardInterrupt:
        print("interrupted; stopping servers", file=sys.stderr)
        return 130
    finally:
        for app in apps:
            app.stop()
        stack.stop()
    result["loadavg_after"] = os.getloadavg()
    result["wall_seconds"] = round(time.time() - started)
    result["goals"] = report.goals(result)
    out = args.out or RESULTS_DIR / f"side_by_side-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(report.render(result))
    print(f"\nresults: {out}")
    return 0 if result["goals"]["no_errors"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
