"""Bearer-token guards. Two scopes: the admin token changes what is served and reads what was
stored (/train, rollback, feedback export and erasure); the feedback token only adds feedback
(POST /feedback), which the admin token may do too. Each token is its setting, else its file's
(gateway/tokens.py)."""
from __future__ import annotations

import functools
import hmac
from typing import Callable

from flask import request

from core.errors import Unauthorized
from gateway.services import get_admin_token, get_feedback_token


def bearer_token() -> str:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else ""


def _guard(name: str, *tokens: Callable[[], str]):
    def decorator(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            given = bearer_token().encode()
            # An empty token never matches, even if a configured one were empty.
            if not given or not any(t() and hmac.compare_digest(given, t().encode()) for t in tokens):
                raise Unauthorized(f"this endpoint needs 'Authorization: Bearer <{name}>'")
            return view(*args, **kwargs)

        return guarded

    return decorator


require_admin = _guard("admin token", get_admin_token)
require_feedback = _guard("feedback token or admin token", get_feedback_token, get_admin_token)
