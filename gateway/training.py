"""/train (start and watch training jobs) and /models/<name>/rollback: thin views over core.jobs
and core.serving. Nothing from a request reaches a URL or a file name: job ids must match a
strict pattern and model names are checked against the vocabulary."""
from __future__ import annotations

import os
import time

from flask import Blueprint, jsonify

from core import serving
from core.errors import NotFound
from core.jobs import FINISHED
from core.models import MODELS
from gateway.auth import require_admin
from gateway.observability import note
from gateway.request_body import parse, request_json
from gateway.schemas import TrainRequest
from gateway.services import current_settings, get_client, get_jobs, get_store

blueprint = Blueprint("training", __name__)


@blueprint.post("/train")
@require_admin
def start_training():
    body = parse(TrainRequest, request_json(empty={}))
    jobs = get_jobs()
    job_id = start_job({"model": body.model, "train_limit": body.train_limit, "trigger": "api"})
    if body.wait:
        while (job := jobs.read(job_id)) is None or job["state"] not in FINISHED:
            time.sleep(1)
        return jsonify(job), 200
    return jsonify({**jobs.read(job_id), "status_url": f"/train/{job_id}"}), 202


def start_job(params: dict) -> str:
    """Start a training job (core/jobs.py) with this gateway's settings; Conflict if one is running."""
    return get_jobs().start(params, env={**os.environ, **current_settings().as_env()})


@blueprint.get("/train")
def latest_job():
    jobs = get_jobs()
    job_id = jobs.current_id()
    job = jobs.read(job_id) if job_id else None
    if job is None:
        raise NotFound("no training job has run yet; POST /train starts one", code="no_job")
    return jsonify(job)


@blueprint.get("/train/<job_id>")
def job_status(job_id: str):
    job = get_jobs().read(job_id)
    if job is None:
        raise NotFound("no training job with that id", code="no_job", field="job_id")
    return jsonify(job)


@blueprint.post("/models/<name>/rollback")
@require_admin
def rollback(name: str):
    if name not in MODELS or not MODELS[name].retrainable:
        raise NotFound("only the fast model ('fast') has versions to roll back", code="unknown_model", field="name")
    note(model=name)
    jobs = get_jobs()
    lock = jobs.acquire_lock()  # never while a job is promoting
    if lock is None:
        raise jobs.busy()
    try:
        now_serving, now_previous = serving.rollback(get_store(), get_client(), name)
    finally:
        os.close(lock)
    return jsonify({"model": name, "serving": now_serving.version, "previous": now_previous.version})
