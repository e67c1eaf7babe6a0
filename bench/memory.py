"""Memory of the whole service: at start, after each /train promotion, after a rejected candidate
and after a rollback, and at the peak of each /train job (the training process included).

    python -m bench.memory [--promotions 3] [--out bench/results/memory.json]     (make memory)

Starts a stack (TorchServe with both models, its reconciler, the gateway) on free loopback ports
with a copy of the project's model store, so nothing of the project's is changed. Each process's
PSS (proportional set size: a page shared by n processes counts 1/n in each, so the sum counts it
once) and RSS come from /proc/PID/smaps_rollup. A sampler thread sums the PSS of every process of
the service every 0.2 s while a job runs; the largest sum is the job's peak.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

from core.models import ACCURATE, CANARY_TEXTS, FAST, MODELS
from core.settings import PROJECT_ROOT, get_settings
from deploy import processes
from deploy.stack import Stack

TOKEN = "memory-bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GIB = 1024 ** 3
ROLES = ("TorchServe JVM", "fast worker", "accurate worker", "TorchServe launcher", "TorchServe metrics helper",
         "reconciler", "gateway master", "gateway workers", "train job", "other")


def smaps_rollup(pid: int) -> tuple[int, int]:
    """(PSS, RSS) in bytes; (0, 0) for a process that is gone."""
    values = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("Pss", "Rss"):
                    values[key] = int(rest.split()[0]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0, 0
    return values.get("Pss", 0), values.get("Rss", 0)


class Service:
    """The stack's processes by role: everything under its TorchServe, reconciler and gateway pids."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.worker_models: dict[int, str] = {}

    def _tree(self, name: str) -> list[psutil.Process]:
        pid = processes.running_pid(self.stack.run_dir / f"{name}.pid")
        if not pid:
            return []
        try:
            root = psutil.Process(pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _role(self, process: psutil.Process, tree: str, is_root: bool) -> str:
        try:
            command = " ".join(process.cmdline())
        except psutil.Error:
            return "other"
        if "train.rollout" in command or any("train.rollout" in " ".join(a.cmdline()) for a in process.parents()):
            return "train job"  # the job process, and any helper process it starts
        if tree == "reconcile":
            return "reconciler"
        if tree == "gateway":
            return "gateway master" if is_root else "gateway workers"
        if "java" in process.name():
            return "TorchServe JVM"
        if "metric_collector" in command:
            return "TorchServe metrics helper"
        if "model_service_worker" in command:
            if process.pid not in self.worker_models:
                self._map_workers()
            return f"{self.worker_models.get(process.pid, 'other')} worker"
        return "TorchServe launcher" if is_root else "other"

    def _map_workers(self) -> None:
        client = self.stack.client(timeout=10)
        for model in MODELS:
            for version in client.versions(model):
                for worker in version.get("workers", []):
                    self.worker_models[int(worker["pid"])] = model

    def processes(self) -> list[tuple[str, int]]:
        found = []
        for tree in ("torchserve", "reconcile", "gateway"):
            members = self._tree(tree)
            found += [(self._role(p, tree, i == 0), p.pid) for i, p in enumerate(members)]
        return found

    def snapshot(self) -> dict:
        """{role: {"pss", "rss", "processes"}} and the totals, in bytes."""
        roles: dict[str, dict] = {}
        for role, pid in self.processes():
            pss, rss = smaps_rollup(pid)
            entry = roles.setdefault(role, {"pss": 0, "rss": 0, "processes": 0})
            entry["pss"] += pss
            entry["rss"] += rss
            entry["processes"] += 1
        total = {"pss": sum(r["pss"] for r in roles.values()), "rss": sum(r["rss"] for r in roles.values())}
        return {"roles": roles, "total": total}


class PeakSampler(threading.Thread):
    """The largest total PSS (and that moment's snapshot) while running."""

    def __init__(self, service: Service, interval: float = 0.2):
        super().__init__(daemon=True, name="memory-sampler")
        self.service, self.interval = service, interval
        self.peak: dict = {"total": {"pss": 0, "rss": 0}, "roles": {}}
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            try:
                snapshot = self.service.snapshot()
            except (psutil.Error, requests.RequestException, OSError):
                snapshot = None  # a process came or went mid-walk; the next sample sees it
            if snapshot and snapshot["total"]["pss"] > self.peak["total"]["pss"]:
                self.peak = snapshot
            self._done.wait(self.interval)

    def stop(self) -> dict:
        self._done.set()
        self.join()
        return self.peak


def warm(stack: Stack) -> None:
    """Every model answers once in each mode, so lazily loaded parts (Kiwi) are in memory."""
    for mode in ("fast", "accurate", "auto"):
        for _ in range(3):
            response = requests.post(f"{stack.gateway_url}/predict", json={"text": list(CANARY_TEXTS), "mode": mode},
                                     timeout=60)
            response.raise_for_status()


def train(stack: Stack, service: Service, body: dict) -> tuple[dict, dict, float]:
    """(the finished job, the peak snapshot during it, its seconds end to end)."""
    sampler = PeakSampler(service)
    sampler.start()
    started = time.perf_counter()
    response = requests.post(f"{stack.gateway_url}/train", json=body, headers=AUTH, timeout=30)
    response.raise_for_status()
    job_id = response.json()["id"]
    while True:
        job = requests.get(f"{stack.gateway_url}/train/{job_id}", timeout=10).json()
        if job["state"] in ("succeeded", "failed"):
            break
        time.sleep(0.5)
    seconds = time.perf_counter() - started
    return job, sampler.stop(), seconds


def settle(stack: Stack) -> None:
    """Wait out the replaced version's drain (one request timeout, then a reconcile round unloads
    it: core/reconcile.py), then warm what is served now."""
    time.sleep(stack.settings.timeout_seconds + stack.settings.reconcile_seconds + 2)
    stack.wait_ready(120)
    warm(stack)


def mb(value: int) -> str:
    return f"{value / 1e6:,.0f}"


def print_table(phases: list[tuple[str, dict]]) -> None:
    roles = [r for r in ROLES if any(r in s["roles"] for _, s in phases)]
    width = max(len(name) for name, _ in phases)
    print(f"\n{'PSS / RSS, MB':<{width}} | " + " | ".join(f"{r:>17}" for r in roles) + " |      total PSS / RSS")
    for name, snap in phases:
        cells = []
        for role in roles:
            entry = snap["roles"].get(role)
            cells.append(f"{mb(entry['pss']):>7} / {mb(entry['rss']):>7}" if entry else f"{'-':>17}")
        total = snap["total"]
        print(f"{name:<{width}} | " + " | ".join(cells) +
              f" | {mb(total['pss']):>7} / {mb(total['rss']):>7} ({total['pss'] / GIB:.2f} GiB PSS)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--promotions", type=int, default=3, help="/train jobs that should be promoted")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results" / "memory.json")
    args = parser.parse_args(argv)
    source = get_settings().model_store
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as tmp:
        store, run_dir = Path(tmp) / "store", Path(tmp) / "run"
        store.mkdir()
        for item in source.iterdir():
            if item.is_file() and (item.suffix == ".mar" or item.name == "registry.json"):
                shutil.copy2(item, store / item.name)
        stack = Stack.on_free_ports(run_dir, store, [FAST, ACCURATE], admin_token=TOKEN,
                                    models_dir=Path(tmp) / "models")
        service = Service(stack)
        phases, jobs = [], []
        try:
            started = time.perf_counter()
            stack.start(300)
            print(f"stack up in {time.perf_counter() - started:.0f} s", flush=True)
            warm(stack)
            phases.append(("start", service.snapshot()))
            print_table(phases)
            for n in range(1, args.promotions + 1):
                job, peak, seconds = train(stack, service, {})
                jobs.append({"body": {}, "state": job["state"], "promoted": job.get("promoted"),
                             "version": job.get("version"), "seconds": round(seconds, 1),
                             "test_accuracy": job.get("test_accuracy")})
                print(f"/train {n}: {job['state']}, promoted={job.get('promoted')} v{job.get('version')} "
                      f"in {seconds:.0f} s", flush=True)
                phases.append((f"peak during /train {n}", peak))
                settle(stack)
                phases.append((f"after promotion {n}", service.snapshot()))
                print_table(phases[-2:])
            job, peak, seconds = train(stack, service, {"train_limit": 1000})
            jobs.append({"body": {"train_limit": 1000}, "state": job["state"], "promoted": job.get("promoted"),
                         "version": job.get("version"), "seconds": round(seconds, 1),
                         "test_accuracy": job.get("test_accuracy")})
            print(f"/train train_limit=1000: {job['state']}, promoted={job.get('promoted')} in {seconds:.0f} s",
                  flush=True)
            phases.append(("peak during rejected /train", peak))
            settle(stack)
            phases.append(("after a rejected candidate", service.snapshot()))
            started = time.perf_counter()
            response = requests.post(f"{stack.gateway_url}/models/{FAST}/rollback", headers=AUTH, timeout=120)
            rollback_seconds = time.perf_counter() - started
            print(f"rollback: HTTP {response.status_code} {response.text.strip()} in {rollback_seconds:.1f} s")
            settle(stack)
            phases.append(("after a rollback", service.snapshot()))
            registered = {m: sorted(v["modelVersion"] for v in stack.client().versions(m)) for m in (FAST, ACCURATE)}
        finally:
            stack.stop()
    print_table(phases)
    start, worst = phases[0][1]["total"]["pss"], max(s["total"]["pss"] for n, s in phases if n.startswith("after"))
    peak = max(s["total"]["pss"] for n, s in phases if n.startswith("peak"))
    summary = {"start_pss_gib": round(start / GIB, 3), "largest_after_pss_gib": round(worst / GIB, 3),
               "growth_vs_start_pct": round(100 * (worst - start) / start, 1), "peak_pss_gib": round(peak / GIB, 3),
               "rollback_seconds": round(rollback_seconds, 1), "registered_at_end": registered}
    print("\n" + json.dumps(summary))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "jobs": jobs, "phases": dict(phases)}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
