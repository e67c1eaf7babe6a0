"""/train (start and watch training jobs) and /models/<name>/rollback: thin views over core.jobs
and core.serving. Nothing from a request reaches a URL or a file name: job ids must match a
strict pattern and model names are checked against the vocabulary."""
from __future__ import annotations

import os
import time

from flask import Blueprint, jsonify

from core import serving
from core.errors import Conflict, NotFound
from core.jobs import FINISHED, JOB_ID
from core.models import ACCURATE, MODELS
from gateway.auth import require_admin
from gateway.observability import note
from gateway.request_body import parse, request_json
from gateway.routes import errors, path_parameter, route
from gateway.schemas import JobStatusResponse, RollbackResponse, TrainRequest
from gateway.services import current_settings, get_client, get_jobs, get_store

blueprint = Blueprint("training", __name__)


@route(blueprint, "post", "/train", "Retrain a model on the feedback and roll the new version out",
       {200: (JobStatusResponse, "with wait=true: the finished job"),
        202: (JobStatusResponse, "the job started; poll status_url"), **errors(400, 401, 409, 413)},
       body=TrainRequest, body_required=False, token="adminToken")
@require_admin
def start_training():
    body = parse(TrainRequest, request_json(empty={}))
    if body.model == ACCURATE and (ACCURATE not in current_settings().served_models
                                   or get_store().serving(ACCURATE) is None):
        raise Conflict("the accurate model is retrained from the serving one, and this deployment serves none",
                       code="model_not_served", field="model")
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


@route(blueprint, "get", "/train", "The latest training job", {200: (JobStatusResponse, "the job"), **errors(404)})
def latest_job():
    jobs = get_jobs()
    job_id = jobs.current_id()
    job = jobs.read(job_id) if job_id else None
    if job is None:
        raise NotFound("no training job has run yet; POST /train starts one", code="no_job")
    return jsonify(job)


@route(blueprint, "get", "/train/<job_id>", "One training job", {200: (JobStatusResponse, "the job"), **errors(404)},
       parameters=[path_parameter("job_id", type="string", pattern=JOB_ID.pattern)])
def job_status(job_id: str):
    job = get_jobs().read(job_id)
    if job is None:
        raise NotFound("no training job with that id", code="no_job", field="job_id")
    return jsonify(job)


@route(blueprint, "post", "/models/<name>/rollback", "Serve the previous version of a model again",
       {200: (RollbackResponse, "the versions now serving and previous"), **errors(401, 404, 409, 502, 503, 504)},
       token="adminToken",
       parameters=[path_parameter("name", type="string", enum=list(MODELS))])
@require_admin
def rollback(name: str):
    if name not in MODELS:
        raise NotFound(f"no model named {name!r}; the models are {', '.join(MODELS)}", code="unknown_model",
                       field="name")
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
