"""One training job: retrain a model on the feedback (the fast one on NSMC plus the feedback; the
accurate one by continuing its fine-tuning, train/accurate.py), archive a new version, register,
smoke-test, gate, promote.

    python -m train.rollout JOB_ID [--lock-fd FD]

Started by the gateway (core/jobs.py), which records the job's parameters in its status file and
hands it the job lock; every other value comes from the settings (SENTIMENT_* environment).
It reports through <job_dir>/<id>.json. Any failure leaves the serving version untouched, and a
candidate that is not promoted is unloaded again (its archive stays in the store).
"""
from __future__ import annotations

import argparse
import logging
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import database, serving
from core.clock import now
from core.errors import Conflict
from core.feedback import FeedbackStore
from core.jobs import Jobs, JobStatus
from core.models import ACCURATE, FAST
from core.settings import Settings, get_settings
from core.store import CANDIDATE, ModelStore
from core.torchserve import TorchServeClient
from train import fast, gate, reference
from train import feedback as feedback_data
from handlers.artifacts import LABELS
from train.archive import archived_metrics, build_archive

log = logging.getLogger("rollout")


def serving_recipe(store: ModelStore) -> fast.FastParams:
    """The serving fast model's recipe (e.g. `--morphemes`), so a retrain keeps it; the default
    recipe when nothing is served or its archive does not say."""
    serving_now = store.serving(FAST)
    if serving_now is None or not (store.path / serving_now.file).is_file():
        return fast.FastParams()
    return fast.params_of(archived_metrics(store.path / serving_now.file))


@dataclass(frozen=True)
class Trained:
    model_dir: Path
    metrics: dict
    serving_accuracy: float | None  # what the gate compares test_accuracy with
    holdout: dict | None  # the candidate against the serving version on the held-out feedback (gate.mcnemar)


def train_fast(settings: Settings, store: ModelStore, client: TorchServeClient, params: dict,
               feedback: feedback_data.FeedbackData, version: str, step) -> Trained:
    """The serving recipe on NSMC train (or its `train_limit` subset) plus the training feedback."""
    serving_now = store.serving(FAST)
    pipeline, metrics = fast.train_and_evaluate(
        settings.nsmc_dir, params.get("train_limit") or settings.train_limit, settings.test_limit,
        serving_recipe(store), progress=step,  # reports "load data", "train", "evaluate"
        also_train_on=feedback.split(feedback.train))
    metrics["feedback"] = feedback.manifest
    holdout = None
    if serving_now and feedback.holdout:
        held_out = feedback.split(feedback.holdout)
        serving_labels = []
        for start in range(0, len(held_out), feedback_data.SCORE_CHUNK):
            answer = client.predict(FAST, held_out.texts[start:start + feedback_data.SCORE_CHUNK],
                                    version=serving_now.version)
            serving_labels += [LABELS.index(r["label"]) for r in answer.results]
        holdout = gate.mcnemar(np.array(serving_labels) == held_out.labels,
                               fast.predict(pipeline, held_out.texts) == held_out.labels)
    model_dir = fast.save(pipeline, metrics, settings.models_dir / f"{FAST}.v{version}")
    return Trained(model_dir, metrics, serving_now.info.get("test_accuracy") if serving_now else None, holdout)


def train_accurate(settings: Settings, store: ModelStore, client: TorchServeClient, params: dict,
                   feedback: feedback_data.FeedbackData, version: str, step) -> Trained:
    """Fine-tuning of the serving BERT continued on the training feedback (train/accurate.py)."""
    from train import accurate  # torch and transformers: only for this model's jobs

    serving_now, fast_now = store.serving(ACCURATE), store.serving(FAST)
    if serving_now is None or fast_now is None:
        raise Conflict("retraining the accurate model continues from the serving one, blended with the "
                           "serving fast model: both must be served")
    settings.nsmc_cache_dir.mkdir(parents=True, exist_ok=True)
    result = accurate.retrain(store.path / serving_now.file, store.path / fast_now.file, feedback.split(feedback.train),
                              feedback.split(feedback.holdout) if feedback.holdout else None, settings.nsmc_dir,
                              settings.models_dir / f"{ACCURATE}.v{version}",
                              params.get("train_limit") or settings.train_limit, settings.test_limit,
                              settings.accurate_train_minutes, settings.nsmc_cache_dir, progress=step)
    metrics = {**result.metrics, "feedback": feedback.manifest}
    holdout = gate.mcnemar(*result.holdout) if result.holdout is not None else None
    return Trained(result.model_dir, metrics, result.serving_accuracy, holdout)


TRAINERS = {FAST: train_fast, ACCURATE: train_accurate}


def run(status: JobStatus, settings: Settings) -> None:
    store = ModelStore(settings.model_store)
    client = TorchServeClient.from_settings(settings, timeout=settings.rollout_timeout_seconds)
    params = status.data.get("params") or {}
    model = params.get("model", FAST)
    serving_now = store.serving(model)
    if serving_now:
        status.update(serving_version=serving_now.version, serving_accuracy=serving_now.info.get("test_accuracy"))

    def step(name: str) -> None:
        log.info("step: %s", name)
        status.step(name)

    step("screen feedback")
    with_accurate = ACCURATE in settings.served_models and store.serving(ACCURATE) is not None
    screening = feedback_data.Screening(settings.quarantine_confidence, settings.quarantine_source_share,
                                        frozenset(settings.trusted_sources))
    feedback = feedback_data.snapshot(FeedbackStore(database.connect(settings)), client, with_accurate,
                                      settings.feedback_holdout_share, screening, settings.max_source_share)
    status.update(feedback=feedback.manifest)
    version = store.next_version(model)
    trained = TRAINERS[model](settings, store, client, params, feedback, version, step)
    metrics = trained.metrics
    status.update(test_accuracy=metrics["test_accuracy"], serving_accuracy=trained.serving_accuracy)

    step("archive")
    mar = build_archive(model, trained.model_dir, store.archive_path(model, version), version=version)
    metrics = {**metrics, "reference": reference.of_archive(model, mar, store, settings.nsmc_dir)}
    candidate = store.add_version(model, version, mar.name, metrics, stage=CANDIDATE)
    status.update(version=version)

    try:
        step("register")
        client.register(mar.name, model)
        step("smoke test")
        serving.smoke_test(client, candidate)

        step("gate")
        verdict = gate.judge(metrics["test_accuracy"], trained.serving_accuracy, settings.promotion_tolerance,
                             trained.holdout, settings.feedback_min_holdout, settings.feedback_gate_alpha)
        status.update(gate=verdict)
        if not verdict["passed"]:
            log.info("%s is not promoted: %s", candidate.tag, verdict["reason"])
            serving.discard(store, client, candidate)
            status.update(state="succeeded", step="gate", progress=1.0, promoted=False, finished_at=now(),
                          reason=verdict["reason"])
            return
    except Exception:
        serving.discard(store, client, candidate)
        raise

    step("promote")
    serving.promote(store, client, candidate)
    status.update(state="succeeded", progress=1.0, promoted=True, finished_at=now())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("job_id")
    parser.add_argument("--lock-fd", type=int, help="an already-held job lock, inherited from the gateway")
    args = parser.parse_args(argv)
    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    jobs = Jobs(settings.job_dir)
    lock = args.lock_fd if args.lock_fd is not None else jobs.acquire_lock()
    try:
        status = JobStatus.load(settings.job_dir, args.job_id)
    except FileNotFoundError:
        status = JobStatus(settings.job_dir, args.job_id)
    if lock is None:
        status.update(state="failed", error={"step": None, "message": "another training job is running"})
        return 1
    jobs.set_current(args.job_id)
    try:
        run(status, settings)
        return 0
    except Exception as exc:  # any failure is reported, and the serving version stays as it was
        log.error("job failed at step %r: %s\n%s", status.data["step"], exc, traceback.format_exc())
        status.update(state="failed", finished_at=now(), error={"step": status.data["step"], "message": str(exc)})
        return 1


if __name__ == "__main__":
    sys.exit(main())
