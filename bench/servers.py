"""The processes a side-by-side run measures, on free loopback ports under their own run dir.

The gateway + TorchServe stack (deploy.stack.Stack), the seed-style baseline, and an unbatched
registration of the accurate archive for the dynamic-batching comparison.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from deploy import processes
from core.models import ACCURATE, FAST
from core.settings import PROJECT_ROOT, get_settings
from core.torchserve import TorchServeClient, text_of
from deploy.ports import free_port
from deploy.stack import Stack
UNBATCHED = f"{ACCURATE}_unbatched"


def bench_stack(run_dir: Path, overrides: dict) -> Stack:
    """Both models from the project's model store (unless `overrides` name others, or another
    store); `overrides` are Settings fields."""
    overrides = {"served_models": [FAST, ACCURATE], "model_store": get_settings().model_store, **overrides}
    return Stack.on_free_ports(run_dir, overrides.pop("model_store"), overrides.pop("served_models"), **overrides)


@dataclass
class Baseline:
    """A comparison app (bench.seed_style_app, bench.asgi_peer) in its own process(es)."""

    run_dir: Path
    name: str = "seed-style"
    module: str = "bench.seed_style_app"
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    def start(self, timeout: float = 300) -> None:
        processes.spawn([sys.executable, "-m", self.module, "--port", str(self.port)],
                        self.run_dir / f"{self.name}.log", self.pid_file, PROJECT_ROOT,
                        env={"PYTHONPATH": str(PROJECT_ROOT)})

        def up():
            try:
                return requests.get(f"{self.url}/health", timeout=2).status_code == 200
            except requests.RequestException:
                return False
        processes.wait_for(up, timeout, self.name, lambda: processes.running_pid(self.pid_file) is not None)

    def pids(self) -> list[int]:
        """The app's process and its workers' (uvicorn's workers are children)."""
        pid = processes.running_pid(self.pid_file)
        if not pid:
            return []
        try:
            return [pid] + [c.pid for c in psutil.Process(pid).children(recursive=True)]
        except psutil.Error:
            return [pid]

    def stop(self) -> None:
        processes.stop(self.pid_file)


def baselines(run_dir: Path) -> list[Baseline]:
    return [Baseline(run_dir), Baseline(run_dir, "asgi-peer", "bench.asgi_peer")]


def client(stack: Stack) -> TorchServeClient:
    return TorchServeClient.from_settings(stack.settings, timeout=60)


def register_unbatched(ts: TorchServeClient, stack: Stack) -> dict:
    """The accurate archive again, as its own model with batch size 1; returns its description.

    TorchServe 0.12 lets explicit register parameters override the archive's model-config YAML
    (batchSize 16 there); the description returned is what the caller should check.
    """
    response = ts.request("POST", "management", "/models", timeout=600, params={
        "url": stack.store.serving(ACCURATE).file, "model_name": UNBATCHED, "batch_size": 1, "max_batch_delay": 0,
        "initial_workers": 1, "synchronous": "true"})
    if response.status >= 400:
        raise RuntimeError(f"registering {UNBATCHED}: HTTP {response.status} {text_of(response)[:300]}")
    return ts.describe(UNBATCHED)


def scale(ts: TorchServeClient, model: str, workers: int) -> None:
    response = ts.request("PUT", "management", f"/models/{model}", timeout=600,
                          params={"min_worker": workers, "max_worker": workers, "synchronous": "true"})
    if response.status >= 400:
        raise RuntimeError(f"scaling {model}: HTTP {response.status} {text_of(response)[:300]}")


def pooled_connections(stack: Stack) -> dict[str, int]:
    """Open connections from each gateway worker to TorchServe's inference port (pid → count).

    With pooling and keep-alive they stay open between requests, at most one per gateway thread.
    """
    gateway = processes.running_pid(stack.run_dir / "gateway.pid")
    workers = psutil.Process(gateway).children() if gateway else []
    return {str(w.pid): sum(1 for c in w.net_connections("tcp")
                            if c.raddr and c.raddr.port == stack.settings.inference_port and c.status == "ESTABLISHED")
            for w in workers}


def process_roles(stack: Stack, apps: list[Baseline], ts: TorchServeClient, worker_models: dict[int, str]) -> dict:
    """{role: [pids]} for PeakRss. worker_models (pid → model) is filled from describe-model as needed."""
    roles: dict[str, list[int]] = {"load generator": [psutil.Process().pid]}
    gateway = processes.running_pid(stack.run_dir / "gateway.pid")
    if gateway:
        roles["gateway master"] = [gateway]
        roles["gateway workers"] = [p.pid for p in psutil.Process(gateway).children()]
    launcher = processes.running_pid(stack.run_dir / "torchserve.pid")
    if launcher:
        jvm = [p for p in psutil.Process(launcher).children() if "java" in p.name()]
        roles["torchserve frontend (JVM)"] = [p.pid for p in jvm]
        workers = [w for p in jvm for w in p.children(recursive=True)]
        if any(w.pid not in worker_models for w in workers):
            for model in (FAST, ACCURATE, UNBATCHED):
                for worker in (ts.describe(model) or {}).get("workers", []):
                    worker_models[int(worker["pid"])] = model
        for w in workers:
            model = worker_models.get(w.pid)
            roles.setdefault(f"worker {model}" if model else "torchserve helper (metrics)", []).append(w.pid)
    for app in apps:
        pids = app.pids()
        if pids:
            roles[app.name] = pids
    return roles


def cpu_seconds(roles: dict[str, list[int]]) -> dict[str, float]:
    """User + system CPU seconds each role's processes have used so far (gone processes count 0)."""
    used: dict[str, float] = {}
    for role, pids in roles.items():
        used[role] = 0.0
        for pid in pids:
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            used[role] += times.user + times.system
    return used


def pss_mb(roles: dict[str, list[int]]) -> dict[str, float]:
    """Proportional set size of each role's processes now, MiB (shared pages split among sharers)."""
    out: dict[str, float] = {}
    for role, pids in roles.items():
        total = 0
        for pid in pids:
            try:
                total += psutil.Process(pid).memory_full_info().pss
            except psutil.Error:
                continue
        out[role] = round(total / 2**20, 1)
    return out
