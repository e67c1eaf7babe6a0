"""The training-job protocol: one status file per job, one lock, and the id of the latest job.

    <job_dir>/<id>.json     the job's status, rewritten atomically at every change
    <job_dir>/<id>.log      its log
    <job_dir>/lock          held (flock) by the running job for its whole life
    <job_dir>/current       the latest job's id

A job runs as its own process (`python -m train.rollout <id>`, started by the gateway); whoever
starts it takes the lock first and hands it to the child, so two jobs never overlap, whichever
gateway worker or pod asked. A job whose process died leaves the lock free: it reads as failed.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from core.clock import now
from core.errors import Conflict
from core.files import write_json_atomic
from core.redact import redact_paths

LOCK_FILE = "lock"
CURRENT_FILE = "current"
JOB_ID = re.compile(r"^[0-9a-f]{12}$")
FINISHED = ("succeeded", "failed")
STEPS = ["screen feedback", "load data", "train", "evaluate", "archive", "register", "smoke test", "gate", "promote"]
JOB_MODULE = "train.rollout"  # what runs a job; started by module name, never imported here


class JobStatus:
    """One job's JSON status file."""

    def __init__(self, job_dir: Path, job_id: str, **fields):
        self.path = Path(job_dir) / f"{job_id}.json"
        self.data = {"id": job_id, "model": "fast", "state": "queued", "step": None, "progress": 0.0,
                     "started_at": now(), "finished_at": None, "elapsed_seconds": None,
                     "version": None, "test_accuracy": None, "serving_version": None, "serving_accuracy": None,
                     "promoted": False, "error": None, **fields}
        self._started = time.monotonic()

    @classmethod
    def load(cls, job_dir: Path, job_id: str) -> "JobStatus":
        status = cls(job_dir, job_id)
        status.data = json.loads(status.path.read_text())
        return status

    def update(self, **fields) -> None:
        self.data.update(fields, elapsed_seconds=round(time.monotonic() - self._started, 1))
        write_json_atomic(self.path, self.data)

    def step(self, name: str) -> None:
        self.update(state="running", step=name, progress=round(STEPS.index(name) / len(STEPS), 3))


class Jobs:
    def __init__(self, job_dir: Path):
        self.dir = Path(job_dir)

    def acquire_lock(self) -> int | None:
        """The job lock's fd, or None when another job holds it."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def lock_is_free(self) -> bool:
        lock = self.acquire_lock()
        if lock is None:
            return False
        os.close(lock)
        return True

    def current_id(self) -> str | None:
        try:
            job_id = (self.dir / CURRENT_FILE).read_text().strip()
        except FileNotFoundError:
            return None
        return job_id if JOB_ID.match(job_id) else None

    def set_current(self, job_id: str) -> None:
        (self.dir / CURRENT_FILE).write_text(job_id)

    def busy(self) -> Conflict:
        job_id = self.current_id()
        return Conflict(f"training job {job_id} is running; one job at a time", code="job_running", job_id=job_id)

    def read(self, job_id: str) -> dict | None:
        """A job's status as clients see it: live elapsed time, a dead job failed, no server paths."""
        if not JOB_ID.match(job_id):
            return None
        try:
            job = json.loads((self.dir / f"{job_id}.json").read_text())
        except (FileNotFoundError, ValueError):
            return None
        if job.get("state") not in FINISHED:
            started = datetime.fromisoformat(job["started_at"])
            job["elapsed_seconds"] = round((datetime.now(timezone.utc) - started).total_seconds(), 1)
            if self.lock_is_free():  # the job lock dies with its process: this job will never finish
                job.update(state="failed", error={"step": job.get("step"),
                                                  "message": "the training process exited unexpectedly; see its log"})
        if job.get("error"):  # exception texts may name server paths; the job log has the full story
            job["error"]["message"] = redact_paths(job["error"]["message"])
        return job

    def finished(self) -> list[dict]:
        """Every finished job's status, as its process last wrote it."""
        jobs = []
        for path in self.dir.glob("*.json"):
            try:
                job = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if job.get("state") in FINISHED:
                jobs.append(job)
        return jobs

    def start(self, params: dict, env: dict | None = None) -> str:
        """Take the lock, record a queued job with its parameters, and start its process, which
        inherits the lock. Raises Conflict when a job is running."""
        lock = self.acquire_lock()
        if lock is None:
            raise self.busy()
        try:
            job_id = uuid.uuid4().hex[:12]
            JobStatus(self.dir, job_id, model=params.get("model", "fast"), params=params).update()
            self.set_current(job_id)
            command = [sys.executable, "-m", JOB_MODULE, job_id, "--lock-fd", str(lock)]
            with open(self.dir / f"{job_id}.log", "ab") as log:
                subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 pass_fds=(lock,), start_new_session=True, env=env)
        finally:
            os.close(lock)  # the child holds the lock now
        return job_id
