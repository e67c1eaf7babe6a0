"""What a side-by-side run records besides its cells (machine, versions, settings) and how it prints."""
from __future__ import annotations

import os
import platform
import runpy
import subprocess
from importlib import metadata

import psutil

from bench.servers import ACCURATE, FAST, UNBATCHED
from core.settings import get_settings
from core.torchserve import POOL_MAXSIZE
from deploy.stack import GUNICORN_CONFIG
from sentiment_client import DEFAULT_BATCH

AUTO_JUDGED_SIZE = DEFAULT_BATCH  # what the shipped client sends
PACKAGES = ("torch", "torchserve", "Flask", "Werkzeug", "gunicorn", "gevent", "urllib3", "orjson", "requests",
            "aiohttp", "starlette", "uvicorn", "uvloop", "kiwipiepy", "transformers", "scikit-learn")
# TorchServe 0.12's defaults for keys config.properties leaves out (0 threads = one per core).
TORCHSERVE_DEFAULTS = {"number_of_netty_threads": "0", "netty_client_threads": "0", "job_queue_size": "100",
                       "default_workers_per_model": "0"}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    return {"cpu": cpu, "logical_cores": psutil.cpu_count(), "physical_cores": psutil.cpu_count(logical=False),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1), "os": platform.platform(),
            "python": platform.python_version(), "java": java[0] if java else "?",
            "versions": {p: metadata.version(p) for p in PACKAGES}}


def gunicorn_settings(stack) -> dict:
    """What gunicorn_conf.py gives under the stack's settings."""
    saved = dict(os.environ)
    os.environ.update(stack.settings.as_env())
    get_settings.cache_clear()
    try:
        conf = runpy.run_path(str(GUNICORN_CONFIG))
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
    return {k: conf.get(k) for k in ("workers", "worker_class", "threads", "worker_connections", "keepalive")}


def settings(stack, ts, unbatched: dict | None) -> dict:
    properties = dict(TORCHSERVE_DEFAULTS)
    for line in (stack.run_dir / "torchserve.properties").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            properties[key.strip()] = value.strip()
    models = {}
    for model, description in ((FAST, ts.describe(FAST)), (ACCURATE, ts.describe(ACCURATE)), (UNBATCHED, unbatched)):
        if description:
            models[model] = {k: description.get(k) for k in ("minWorkers", "maxWorkers", "batchSize", "maxBatchDelay")}
            models[model]["workers"] = len(description.get("workers", []))
    return {
        "gunicorn": gunicorn_settings(stack),
        "gateway": {k: getattr(stack.settings, k) for k in ("calls_in_flight", "live_signals", "shadow_rate")},
        "gateway_pool": {"pool_maxsize": POOL_MAXSIZE,
                         "keep_alive": "urllib3.PoolManager, HTTP/1.1 persistent connections"},
        "torchserve": {k: properties[k] for k in TORCHSERVE_DEFAULTS},
        "models": models,
        "torch_threads": os.environ.get("OMP_NUM_THREADS") or f"torch default ({psutil.cpu_count()} = cores)",
    }


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def _cell(rows, path, size, concurrency, target):
    return next((r for r in rows if (r["path"], r["size"], r["concurrency"], r["target"]) == (path, size, concurrency, target)), None)


PEER = "asgi-peer"
GATEWAY_ROLES = ("gateway master", "gateway workers")
SERVICE_ROLES = GATEWAY_ROLES + ("torchserve frontend (JVM)", f"worker {FAST}", f"worker {ACCURATE}",
                                 "torchserve helper (metrics)")


def gateway_cpu_ms(row: dict) -> float:
    return round(sum(row.get("cpu_ms_per_request", {}).get(role, 0.0) for role in GATEWAY_ROLES), 3)


def peer_goals(rows: list[dict], pss: dict) -> dict:
    """The gateway against the in-process ASGI peer (issue: faster than what a team would write)."""
    out = {}
    throughput, latency, cpu = {}, {}, {}
    for row in rows:
        if row["target"] != "gateway":
            continue
        peer = _cell(rows, row["path"], row["size"], row["concurrency"], PEER)
        name = f"{row['path']}, {row['size']}, c={row['concurrency']}"
        if peer and row["concurrency"] >= 8:
            throughput[name] = ratio(row["req_per_s"], peer["req_per_s"])
        if peer and row["concurrency"] == 1:
            latency[name] = ratio(peer["p50_ms"], row["p50_ms"])
        if row["size"] == 1 and row["concurrency"] == 8:
            cpu[row["path"]] = gateway_cpu_ms(row)
    out["gateway_vs_peer_throughput"] = {"target": ">= 1.0 in every cell at c >= 8", "ratios": throughput,
                                         "met": all((r or 0) >= 1.0 for r in throughput.values()) if throughput else None}
    out["gateway_vs_peer_p50_at_c1"] = {"target": "peer p50 / gateway p50 >= 0.5", "ratios": latency,
                                        "met": all((r or 0) >= 0.5 for r in latency.values()) if latency else None}
    limits = {"fast": 0.7, "accurate": 1.0}
    out["gateway_cpu_ms_single_review"] = {"target": "<= 0.7 ms fast, <= 1.0 ms accurate (c=8)", "ms": cpu,
                                           "met": all(v <= limits[k] for k, v in cpu.items()) if cpu else None}
    service = round(sum(v for role, v in pss.items() if role in SERVICE_ROLES), 1)
    out["service_pss"] = {"target": "<= 1280 MiB serving", "mib": service, "peer_mib": pss.get(PEER),
                          "met": service <= 1280 if pss else None}
    return out


def goals(result: dict) -> dict:
    rows = result.get("cells", [])
    out = peer_goals(rows, result.get("pss_mb", {}))
    ratios = {}
    for size in (1, 32):
        for concurrency in (8, 32):
            gateway, seed = _cell(rows, "fast", size, concurrency, "gateway"), _cell(rows, "fast", size, concurrency, "seed-style")
            if gateway and seed:
                ratios[f"size {size}, c={concurrency}"] = ratio(gateway["req_per_s"], seed["req_per_s"])
    out["fast_gateway_vs_seed_throughput"] = {"target": ">= 1.0 at c=8 and c=32", "ratios": ratios,
                                              "met": all(r is not None and r >= 1.0 for r in ratios.values()) if ratios else None}
    overhead = {}
    for path in ("fast", "accurate"):
        for concurrency in sorted({r["concurrency"] for r in rows}):
            gateway, direct = _cell(rows, path, 1, concurrency, "gateway"), _cell(rows, path, 1, concurrency, "torchserve")
            if gateway and direct:
                overhead[f"{path}, c={concurrency}"] = round(gateway["p50_ms"] - direct["p50_ms"], 2)
    at_one = {k: v for k, v in overhead.items() if k.endswith("c=1")}
    out["gateway_p50_overhead_ms"] = {"target": "<= 2 ms, single reviews (judged at c=1; others for reference)",
                                      "overhead": overhead, "met": all(v <= 2 for v in at_one.values()) if at_one else None}
    batching = result.get("batching")
    out["batching_speedup"] = {"target": ">= 3x at c=16", "ratio": batching and batching["ratio"],
                               "met": (batching["ratio"] or 0) >= 3 if batching else None}
    autos = result.get("auto") or []
    judged = next((a for a in autos if a["size"] == AUTO_JUDGED_SIZE), None)
    out["auto_vs_accurate_throughput"] = {
        "target": f">= 2x reviews/s at c=8, judged on {AUTO_JUDGED_SIZE}-review requests (the client's batch); "
                  "other sizes for reference",
        "ratios": {f"size {a['size']}, c={a['concurrency']}": a["ratio"] for a in autos},
        "met": (judged["ratio"] or 0) >= 2 if judged else None}
    errors = sum(r["errors"] for r in rows) + sum(batching[m]["errors"] for m in (ACCURATE, UNBATCHED) if batching)
    errors += sum(a[m]["errors"] for a in autos for m in ("auto", "accurate"))
    out["no_errors"] = {"target": "0", "errors": errors, "met": errors == 0}
    return out


def progress(row: dict) -> str:
    return (f"  {row['path']:8} x{row['size']:<3} c={row['concurrency']:<3} {row['target']:11} "
            f"{row['req_per_s']:8.1f} req/s  p50 {row['p50_ms']:7.1f}  p99 {row['p99_ms']:7.1f} ms  errors {row['errors']}")


def batching_line(b: dict) -> str:
    return (f"  dynamic batching, accurate, c={b['concurrency']}: batched {b[ACCURATE]['req_per_s']} req/s "
            f"(p50 {b[ACCURATE]['p50_ms']} ms) vs batch size 1 {b[UNBATCHED]['req_per_s']} req/s "
            f"(p50 {b[UNBATCHED]['p50_ms']} ms): {b['ratio']}x")


def auto_line(a: dict) -> str:
    line = (f"  auto vs accurate through the gateway, {a['size']} review(s) a request, c={a['concurrency']}: "
            f"auto {a['auto']['reviews_per_s']} reviews/s (p50 {a['auto']['p50_ms']} ms) vs accurate "
            f"{a['accurate']['reviews_per_s']} reviews/s (p50 {a['accurate']['p50_ms']} ms): {a['ratio']}x")
    for mode in ("auto", "accurate"):
        cpu = a[mode].get("cpu_ms_per_review")
        if cpu:
            parts = ", ".join(f"{role} {ms}" for role, ms in cpu.items())
            line += f"\n    {mode}: CPU ms a review {sum(cpu.values()):.2f} ({parts})"
    return line


def table(rows: list[dict]) -> str:
    lines = ["| path | reviews/req | conc | target | req/s | reviews/s | p50 ms | p99 ms | ÷ peer req/s | "
             "CPU ms a request (gateway / whole) | errors |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    order = {t: i for i, t in enumerate(("gateway", "torchserve", "seed-style", PEER))}
    for r in sorted(rows, key=lambda r: (r["path"] != "fast", r["size"], r["concurrency"], order[r["target"]])):
        peer = _cell(rows, r["path"], r["size"], r["concurrency"], PEER)
        versus = ratio(r["req_per_s"], peer["req_per_s"]) if peer and r["target"] != PEER else None
        cpu = r.get("cpu_ms_per_request", {})
        whole = sum(ms for role, ms in cpu.items() if role != "load generator")
        gateway = f"{gateway_cpu_ms(r):.2f} / " if r["target"] == "gateway" else ""
        lines.append(f"| {r['path']} | {r['size']} | {r['concurrency']} | {r['target']} | {r['req_per_s']:.1f} | "
                     f"{r['reviews_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                     f"{'' if versus is None else f'{versus:.2f}'} | {gateway}{whole:.2f} | {r['errors']} |")
    return "\n".join(lines)


def side_by_side(rows: list[dict]) -> str:
    """One line a cell, every target side by side: reviews/s (p50 / p99 ms), gateway ÷ peer, and
    the CPU a request of the whole service against the peer's."""
    targets = [t for t in ("gateway", "torchserve", "seed-style", PEER) if any(r["target"] == t for r in rows)]
    lines = ["| cell | " + " | ".join(f"{t} reviews/s (p50 / p99 ms)" for t in targets)
             + " | gateway ÷ peer | CPU ms a request: service (gateway) / peer |",
             "|---|" + "---:|" * (len(targets) + 2)]
    cells = sorted({(r["path"], r["size"], r["concurrency"]) for r in rows},
                   key=lambda c: (c[0] != "fast", c[1], c[2]))
    for path, size, concurrency in cells:
        found = {t: _cell(rows, path, size, concurrency, t) for t in targets}
        parts = [f"{found[t]['reviews_per_s']:,.0f} ({found[t]['p50_ms']:.1f} / {found[t]['p99_ms']:.1f})"
                 if found[t] else "" for t in targets]
        gateway, peer = found.get("gateway"), found.get(PEER)
        versus = f"{ratio(gateway['req_per_s'], peer['req_per_s']):.2f}" if gateway and peer else ""

        def whole(row):
            return sum(ms for role, ms in row.get("cpu_ms_per_request", {}).items() if role in SERVICE_ROLES + (PEER,))
        cpu = (f"{whole(gateway):.2f} ({gateway_cpu_ms(gateway):.2f}) / {whole(peer):.2f}" if gateway and peer else "")
        review = "review" if size == 1 else "reviews"
        lines.append(f"| {path}, {size} {review}, c={concurrency} | " + " | ".join(parts) + f" | {versus} | {cpu} |")
    return "\n".join(lines)


def cpu_lines(rows: list[dict]) -> list[str]:
    out = ["CPU ms a request by process role (load generator included for reference):"]
    for r in rows:
        parts = ", ".join(f"{role} {ms}" for role, ms in r.get("cpu_ms_per_request", {}).items())
        out.append(f"  {r['path']:8} x{r['size']:<3} c={r['concurrency']:<3} {r['target']:11} {parts}")
    return out


def render(result: dict) -> str:
    m, s = result["machine"], result.get("settings", {})
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    parts = [
        f"\nmachine: {m['cpu']}, {m['logical_cores']} logical / {m['physical_cores']} physical cores, "
        f"{m['memory_gb']} GB; {m['os']}; Python {m['python']}; {m['java']}",
        f"versions: {versions}",
        f"load average (1/5/15 min) before {result['loadavg_before']}, after {result['loadavg_after']} "
        f"(anything above ~0 before the run means another job shared the CPU)",
        f"settings: {s}",
        f"open keep-alive connections gateway worker → TorchServe after the matrix (pid: count): "
        f"{result.get('gateway_pooled_connections')}",
        f"wall time: {result['wall_seconds']} s; warm-up {result['args']['warmup']} s + {result['args']['duration']} s per cell",
        "",
        table(result.get("cells", [])),
    ]
    if result.get("batching"):
        parts += ["", batching_line(result["batching"])]
    parts += [auto_line(a) for a in result.get("auto") or []]
    parts += ["", "side by side:", side_by_side(result.get("cells", []))]
    parts += [""] + cpu_lines(result.get("cells", []))
    parts += ["", "PSS after the matrix (MiB): " + ", ".join(f"{k} {v}" for k, v in result.get("pss_mb", {}).items())]
    parts += ["", "peak RSS (MB):"]
    for role, entry in result.get("peak_rss", {}).items():
        parts.append(f"  {role:36} {entry['sum_mb']:6} MB" + (f"  ({len(entry['peak_rss_mb'])} processes)"
                                                              if len(entry["peak_rss_mb"]) > 1 else ""))
    parts += ["", "goals:"]
    for name, goal in result["goals"].items():
        status = {True: "MET", False: "NOT MET", None: "not measured"}[goal["met"]]
        detail = {k: v for k, v in goal.items() if k not in ("met", "target")}
        parts.append(f"  {name}: {status} (target {goal['target']}) {detail}")
    return "\n".join(parts)
