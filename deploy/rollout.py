"""One training job: retrain the fast model, archive a new version, register, smoke-test, gate, promote.

    python -m deploy.rollout --job-dir run/jobs --job-id ID [--train-limit N] [--test-limit N]

Runs as its own process (the gateway starts it) and reports through run/jobs/<id>.json. It holds
the job lock (run/jobs/lock) for its whole life, so jobs never overlap, whichever gateway worker
started them. Any failure leaves the serving version untouched.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from deploy.registry import Registry
from gateway.settings import GatewaySettings
from gateway.torchserve import TorchServeClient

log = logging.getLogger("rollout")
STEPS = ["load data", "train", "evaluate", "archive", "register", "smoke test", "gate", "promote"]
SMOKE_TEXTS = ["음악이 주가 된, 최고의 음악영화", "발연기 도저히 못보겠다 진짜 이렇게 연기를 못할거라곤 상상도 못했네"]
LOCK_FILE = "lock"
CURRENT_FILE = "current"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class JobStatus:
    """The job's JSON status file, rewritten atomically at every change."""

    def __init__(self, job_dir: Path, job_id: str, **fields):
        self.path = job_dir / f"{job_id}.json"
        self.data = {"id": job_id, "model": "fast", "state": "queued", "step": None, "progress": 0.0,
                     "started_at": now(), "finished_at": None, "elapsed_seconds": None,
                     "version": None, "test_accuracy": None, "serving_version": None, "serving_accuracy": None,
                     "promoted": False, "error": None, **fields}
        self._started = time.monotonic()

    def update(self, **fields) -> None:
        self.data.update(fields, elapsed_seconds=round(time.monotonic() - self._started, 1))
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2))
        os.replace(tmp, self.path)

    def step(self, name: str) -> None:
        log.info("step: %s", name)
        self.update(state="running", step=name, progress=round(STEPS.index(name) / len(STEPS), 3))


def run(status: JobStatus, settings: GatewaySettings, store: Path, train_limit, test_limit, tolerance: float) -> None:
    # Imported here: the gateway imports this module for its constants without paying for sklearn.
    from train import fast, settings as project
    from train.archive import archive_path, build_archive

    name = project.FAST_MODEL_NAME
    client = TorchServeClient(settings.inference_url, settings.management_url, settings.key_file, 30)
    registry = Registry(store)
    serving = registry.serving(name)
    if serving:
        status.update(serving_version=serving[0], serving_accuracy=serving[1].get("test_accuracy"))

    pipeline, metrics = fast.train_and_evaluate(train_limit=train_limit, test_limit=test_limit,
                                                progress=status.step)  # reports "load data", "train", "evaluate"
    status.update(test_accuracy=metrics["test_accuracy"])

    status.step("archive")
    version = registry.next_version(name)
    model_dir = project.MODELS_DIR / f"{name}.v{version}"
    fast.save(pipeline, metrics, model_dir)
    mar = build_archive("fast", model_dir, archive_path("fast", version, store), version=version)
    registry.add_version(name, version, mar.name, metrics)
    registry.save()
    status.update(version=version)

    status.step("register")
    client.register(mar.name)

    status.step("smoke test")
    results = client.predict_version(name, version, SMOKE_TEXTS)
    if [r.get("label") for r in results] != ["positive", "negative"]:
        raise RuntimeError(f"v{version} mislabels the smoke-test reviews: {results}")

    status.step("gate")
    floor = None if not serving else serving[1].get("test_accuracy")
    if floor is not None and metrics["test_accuracy"] < floor - tolerance / 100:
        log.info("v%s (%.4f) is below v%s (%.4f) minus %.2f points: not promoted",
                 version, metrics["test_accuracy"], serving[0], floor, tolerance)
        status.update(state="succeeded", step="gate", progress=1.0, promoted=False, finished_at=now(),
                      reason=f"test accuracy {metrics['test_accuracy']:.4f} < serving {floor:.4f} - {tolerance} points")
        return

    status.step("promote")
    client.set_default(name, version)
    registry.promote(name, version)
    registry.save()
    _retire_old_versions(client, registry, name)
    status.update(state="succeeded", progress=1.0, promoted=True, finished_at=now())


def _retire_old_versions(client: TorchServeClient, registry: Registry, name: str) -> None:
    """Keep the serving and previous versions registered (instant rollback); unload the rest."""
    keep = {registry.model(name)["serving"], registry.model(name)["previous"]}
    for described in client.versions(name):
        version = described.get("modelVersion")
        if version not in keep:
            client.unregister(name, version)


def acquire_lock(job_dir: Path) -> int | None:
    """The job lock's fd, or None when another job holds it."""
    job_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(job_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--job-dir", type=Path, required=True)
    parser.add_argument("--job-id", required=True)
    parser.add_argument("--lock-fd", type=int, help="an already-held job lock, inherited from the gateway")
    parser.add_argument("--store", type=Path, help="model store (default: the project's archives/)")
    parser.add_argument("--train-limit", type=int)
    parser.add_argument("--test-limit", type=int)
    parser.add_argument("--tolerance", type=float, default=0.5, help="accuracy points a candidate may lose")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from train import settings as project

    lock = args.lock_fd if args.lock_fd is not None else acquire_lock(args.job_dir)
    status = JobStatus(args.job_dir, args.job_id)
    if lock is None:
        status.update(state="failed", error={"step": None, "message": "another training job is running"})
        return 1
    (args.job_dir / CURRENT_FILE).write_text(args.job_id)
    try:
        run(status, GatewaySettings(), args.store or project.MODEL_STORE, args.train_limit, args.test_limit,
            args.tolerance)
        return 0
    except Exception as exc:  # any failure is reported, and the serving version stays as it was
        log.error("job failed at step %r: %s\n%s", status.data["step"], exc, traceback.format_exc())
        status.update(state="failed", finished_at=now(), error={"step": status.data["step"], "message": str(exc)})
        return 1


if __name__ == "__main__":
    sys.exit(main())
