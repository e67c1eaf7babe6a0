"""The automatic /train trigger: once `retrain_after_rows` new feedback rows have arrived since the
last job's cutoff, and `retrain_debounce_seconds` have passed since it finished, POST /feedback
starts a job by itself (the same job as POST /train). Off by default (retrain_after_rows = 0)."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from core.errors import Conflict
from core.jobs import FINISHED
from gateway.services import current_settings, get_feedback, get_jobs
from gateway.training import start_job

log = logging.getLogger(__name__)


def maybe_start() -> str | None:
    """Start a job if the trigger is due; its id, else None."""
    settings = current_settings()
    if not settings.retrain_after_rows:
        return None
    jobs = get_jobs()
    last_id = jobs.current_id()
    last = jobs.read(last_id) if last_id else None
    if last is not None:
        if last["state"] not in FINISHED:
            return None
        finished = datetime.fromisoformat(last["finished_at"]) if last.get("finished_at") else None
        if finished and (datetime.now(timezone.utc) - finished).total_seconds() < settings.retrain_debounce_seconds:
            return None
    cutoff = ((last or {}).get("feedback") or {}).get("cutoff_id") or 0
    if get_feedback().count_after(cutoff) < settings.retrain_after_rows:
        return None
    try:
        job_id = start_job({"model": "fast", "trigger": "feedback"})
    except Conflict:  # another worker or replica started one just now
        return None
    log.info("started training job %s: %d new feedback rows since the last job", job_id, settings.retrain_after_rows)
    return job_id
