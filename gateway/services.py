"""What the views use, bound to the app (after flaskr's db.py): `init_app` sets them up once,
`get_settings()`, `get_client()`, `get_store()`, `get_jobs()`, `get_admin_token()` and
`get_openapi()` read them."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from core.jobs import Jobs
from core.settings import Settings
from core.store import ModelStore
from core.torchserve import TorchServeClient
from gateway.admin_token import load_or_create_token
from gateway.openapi import build_document

EXTENSION = "sentiment"


@dataclass(frozen=True)
class Services:
    settings: Settings
    client: TorchServeClient
    store: ModelStore
    jobs: Jobs
    admin_token: str
    openapi: dict


def init_app(app: Flask, settings: Settings) -> None:
    settings.job_dir.mkdir(parents=True, exist_ok=True)
    app.extensions[EXTENSION] = Services(
        settings=settings,
        client=TorchServeClient.from_settings(settings),
        store=ModelStore(settings.model_store),
        jobs=Jobs(settings.job_dir),
        admin_token=settings.admin_token or load_or_create_token(settings.admin_token_file),
        openapi=build_document(settings),
    )


def _services() -> Services:
    return current_app.extensions[EXTENSION]


def get_settings() -> Settings:
    return _services().settings


def get_client() -> TorchServeClient:
    return _services().client


def get_store() -> ModelStore:
    return _services().store


def get_jobs() -> Jobs:
    return _services().jobs


def get_admin_token() -> str:
    return _services().admin_token


def get_openapi() -> dict:
    return _services().openapi
