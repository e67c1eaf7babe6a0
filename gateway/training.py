"""/train (start and watch training jobs) and /models/<name>/rollback.

A job is a separate process (deploy/rollout.py); the gateway takes the job lock, hands it to the
child, and reads the child's status file. Nothing from a request reaches a URL or a file name:
job ids are checked against a strict pattern and model names map through a fixed table.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

from flask import Blueprint, current_app, jsonify

from deploy.registry import Registry
from deploy.rollout import CURRENT_FILE, JobStatus, acquire_lock
from gateway.auth import require_admin
from gateway.errors import ApiError, redact_paths
from gateway.schemas import TrainRequest, parse, request_json

blueprint = Blueprint("training", __name__)
JOB_ID = re.compile(r"^[0-9a-f]{12}$")
FINISHED = ("succeeded", "failed")
_spawn_lock = threading.Lock()


def _read_job(job_id: str) -> dict | None:
    path = current_app.config["SETTINGS"].job_dir / f"{job_id}.json"
    try:
        job = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    if job.get("state") not in FINISHED:  # live elapsed time between status updates
        started = datetime.fromisoformat(job["started_at"])
        job["elapsed_seconds"] = round((datetime.now(timezone.utc) - started).total_seconds(), 1)
        if _lock_is_free():  # the job lock dies with its process: this job will never finish
            job.update(state="failed", error={"step": job.get("step"),
                                              "message": "the training process exited unexpectedly; see its log"})
    if job.get("error"):  # exception texts may name server paths; the job log has the full story
        job["error"]["message"] = redact_paths(job["error"]["message"])
    return job


def _lock_is_free() -> bool:
    lock = acquire_lock(current_app.config["SETTINGS"].job_dir)
    if lock is None:
        return False
    os.close(lock)
    return True


def _current_job_id() -> str | None:
    try:
        job_id = (current_app.config["SETTINGS"].job_dir / CURRENT_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return job_id if JOB_ID.match(job_id) else None


def _busy() -> ApiError:
    job_id = _current_job_id()
    return ApiError(409, "job_running", f"training job {job_id} is running; one job at a time", job_id=job_id)


def _spawn(body: TrainRequest) -> str:
    settings = current_app.config["SETTINGS"]
    with _spawn_lock:
        lock = acquire_lock(settings.job_dir)
        if lock is None:
            raise _busy()
        try:
            job_id = uuid.uuid4().hex[:12]
            JobStatus(settings.job_dir, job_id).update()
            (settings.job_dir / CURRENT_FILE).write_text(job_id)
            command = [sys.executable, "-m", "deploy.rollout", "--job-dir", str(settings.job_dir),
                       "--job-id", job_id, "--lock-fd", str(lock), "--store", str(settings.model_store),
                       "--tolerance", str(settings.promotion_tolerance)]
            train_limit = body.train_limit or settings.train_limit
            if train_limit:
                command += ["--train-limit", str(train_limit)]
            if settings.test_limit:
                command += ["--test-limit", str(settings.test_limit)]
            with open(settings.job_dir / f"{job_id}.log", "ab") as log:
                subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 pass_fds=(lock,), start_new_session=True)
        finally:
            os.close(lock)  # the child holds the lock now
    return job_id


@blueprint.post("/train")
@require_admin
def start_training():
    body = parse(TrainRequest, request_json(empty={}))
    job_id = _spawn(body)
    if body.wait:
        while (job := _read_job(job_id)) is None or job["state"] not in FINISHED:
            time.sleep(1)
        return jsonify(job), 200
    return jsonify({**_read_job(job_id), "status_url": f"/train/{job_id}"}), 202


@blueprint.get("/train")
def latest_job():
    job_id = _current_job_id()
    job = _read_job(job_id) if job_id else None
    if job is None:
        raise ApiError(404, "no_job", "no training job has run yet; POST /train starts one")
    return jsonify(job)


@blueprint.get("/train/<job_id>")
def job_status(job_id: str):
    job = _read_job(job_id) if JOB_ID.match(job_id) else None
    if job is None:
        raise ApiError(404, "no_job", "no training job with that id", field="job_id")
    return jsonify(job)


@blueprint.post("/models/<name>/rollback")
@require_admin
def rollback(name: str):
    settings = current_app.config["SETTINGS"]
    models = {"fast": settings.fast_model, settings.fast_model: settings.fast_model}
    if name not in models:
        raise ApiError(404, "unknown_model", "only the fast model ('fast') has versions to roll back", field="name")
    model = models[name]
    lock = acquire_lock(settings.job_dir)
    if lock is None:
        raise _busy()
    try:
        registry = Registry(settings.model_store)
        entry = registry.model(model)
        previous, serving = entry["previous"], entry["serving"]
        if previous is None:
            raise ApiError(409, "no_previous_version", f"{model} has no previous version to roll back to")
        archive = entry["versions"][previous]["file"]
        if not (settings.model_store / archive).is_file():  # a restart could not serve it either
            raise ApiError(409, "previous_archive_missing",
                           f"version {previous}'s archive {archive} is no longer in the model store")
        client = current_app.extensions["torchserve"]
        if previous not in {v.get("modelVersion") for v in client.versions(model)}:
            client.register(archive)
        client.set_default(model, previous)
        registry.promote(model, previous)
        registry.save()
    finally:
        os.close(lock)
    return jsonify({"model": model, "serving": previous, "previous": serving})
