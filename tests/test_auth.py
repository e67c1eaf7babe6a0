"""The admin token: created once, atomically, by workers starting together; an empty token never passes."""
from __future__ import annotations

import multiprocessing

import pytest
from flask import Flask

from gateway.tokens import load_or_create_token
from gateway.auth import require_admin
from core.errors import Unauthorized
from gateway.services import EXTENSION, Services


def app_with_token(token: str, feedback_token: str = "feedback") -> Flask:
    app = Flask(__name__)
    app.extensions[EXTENSION] = Services(settings=None, client=None, predictor=None, signals=None, store=None,
                                         jobs=None, feedback=None, prediction_log=None, admin_token=token,
                                         feedback_token=feedback_token, openapi={})
    return app


def _load(path, start, out):
    start.wait()
    out.put(load_or_create_token(path))


def test_workers_starting_together_all_get_the_same_complete_token(tmp_path):
    # The race this guards against: one worker created the file, another read it before the
    # token was written and accepted "Authorization: Bearer " (seen under schemathesis fuzzing).
    for attempt in range(5):
        path = tmp_path / f"admin_token_{attempt}"
        ctx = multiprocessing.get_context("fork")
        start, out = ctx.Event(), ctx.Queue()
        workers = [ctx.Process(target=_load, args=(path, start, out)) for _ in range(8)]
        for w in workers:
            w.start()
        start.set()
        tokens = [out.get(timeout=30) for _ in workers]
        for w in workers:
            w.join(timeout=30)
        assert len(set(tokens)) == 1 and len(tokens[0]) >= 32
        assert path.read_text().strip() == tokens[0]
        assert (path.stat().st_mode & 0o777) == 0o600
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_an_empty_token_file_is_an_error_not_an_open_door(tmp_path):
    path = tmp_path / "admin_token"
    path.write_text("\n")
    with pytest.raises(RuntimeError, match="is empty"):
        load_or_create_token(path)


@pytest.mark.parametrize("configured,header", [("", "Bearer "), ("", "Bearer"), ("secret", "Bearer "),
                                               ("secret", "Basic secret"), ("secret", "Bearer wrong")])
def test_require_admin_refuses(configured, header):
    app = app_with_token(configured)
    view = require_admin(lambda: "ok")
    with app.test_request_context(headers={"Authorization": header}):
        with pytest.raises(Unauthorized):
            view()


def test_require_admin_accepts_the_token():
    app = app_with_token("secret")
    with app.test_request_context(headers={"Authorization": "Bearer secret"}):
        assert require_admin(lambda: "ok")() == "ok"


@pytest.mark.parametrize("header,admin,feedback", [("Bearer secret", True, True), ("Bearer fb", False, True),
                                                    ("Bearer other", False, False), ("Bearer ", False, False)])
def test_the_feedback_token_adds_feedback_only(header, admin, feedback):
    from gateway.auth import require_feedback

    app = app_with_token("secret", feedback_token="fb")
    for guard, allowed in ((require_admin, admin), (require_feedback, feedback)):
        with app.test_request_context(headers={"Authorization": header}):
            if allowed:
                assert guard(lambda: "ok")() == "ok"
            else:
                with pytest.raises(Unauthorized):
                    guard(lambda: "ok")()
