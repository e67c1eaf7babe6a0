"""What the views use, bound to the app (after flaskr's db.py): `init_app` sets them up once,
`current_settings()`, `get_client()`, `get_predictor()`, `get_signals()`, `get_store()`, `get_jobs()`,
`get_feedback()`, `get_prediction_log()`, `get_admin_token()`, `get_feedback_token()` and `get_openapi()`
read them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flask import Flask, current_app

from core import database
from core.coalesce import CoalescingClient
from core.feedback import FeedbackStore
from core.jobs import Jobs
from core.settings import Settings
from core.store import ModelStore
from core.torchserve import TorchServeClient
from gateway.tokens import load_or_create_token
from gateway.live_signals import LiveSignals
from gateway.prediction_log import PredictionLog
from gateway.openapi import build_document

EXTENSION = "sentiment"


@dataclass(frozen=True)
class Services:
    settings: Settings
    client: TorchServeClient
    predictor: CoalescingClient  # /predict's calls, merged with concurrent ones (core/coalesce.py)
    signals: LiveSignals  # how the models do on live traffic (gateway/live_signals.py)
    store: ModelStore
    jobs: Jobs
    feedback: FeedbackStore  # the prediction log and feedback, in the database (core/feedback.py)
    prediction_log: PredictionLog  # writes /predict's answers to it, off the request path
    admin_token: str
    feedback_token: str
    openapi: dict


def init_app(app: Flask, settings: Settings, on_call: Callable[[str, int], None] | None = None) -> None:
    """`on_call` counts the requests each TorchServe inference call carries (gateway/instruments.py)."""
    settings.job_dir.mkdir(parents=True, exist_ok=True)
    client = TorchServeClient.from_settings(settings)
    predictor = CoalescingClient(client, settings.calls_in_flight, on_call)
    feedback = FeedbackStore(database.connect(settings))  # migrates the schema (under a lock) if needed
    app.extensions[EXTENSION] = Services(
        settings=settings,
        client=client,
        predictor=predictor,
        signals=LiveSignals(predictor, settings.live_signals, settings.shadow_rate, settings.shadow_queue),
        store=ModelStore(settings.model_store),
        jobs=Jobs(settings.job_dir),
        feedback=feedback,
        prediction_log=PredictionLog(feedback, settings),
        admin_token=settings.admin_token or load_or_create_token(settings.admin_token_file),
        feedback_token=settings.feedback_token or load_or_create_token(settings.feedback_token_file),
        openapi=build_document(settings),
    )


def _services() -> Services:
    return current_app.extensions[EXTENSION]


def current_settings() -> Settings:
    return _services().settings


def get_client() -> TorchServeClient:
    return _services().client


def get_predictor() -> CoalescingClient:
    return _services().predictor


def get_signals() -> LiveSignals:
    return _services().signals


def get_store() -> ModelStore:
    return _services().store


def get_jobs() -> Jobs:
    return _services().jobs


def get_feedback() -> FeedbackStore:
    return _services().feedback


def get_prediction_log() -> PredictionLog:
    return _services().prediction_log


def get_admin_token() -> str:
    return _services().admin_token


def get_feedback_token() -> str:
    return _services().feedback_token


def get_openapi() -> dict:
    return _services().openapi
