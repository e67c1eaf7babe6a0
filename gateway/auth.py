"""Bearer-token guard for the endpoints that change what is served (/train, rollback).

The token comes from SENTIMENT_ADMIN_TOKEN, else from the admin token file, which is created
with 0600 permissions on first start.
"""
from __future__ import annotations

import functools
import hmac
import os
import secrets
from pathlib import Path

from flask import current_app, request

from gateway.errors import ApiError


def load_or_create_token(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def require_admin(view):
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        expected = current_app.config["ADMIN_TOKEN"]
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
            raise ApiError(401, "unauthorized", "this endpoint needs 'Authorization: Bearer <admin token>'")
        return view(*args, **kwargs)

    return guarded
