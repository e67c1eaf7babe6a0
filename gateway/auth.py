"""Bearer-token guard for the endpoints that change what is served (/train, rollback).

The token is the admin_token setting, else the admin token file's (gateway/admin_token.py).
"""
from __future__ import annotations

import functools
import hmac

from flask import request

from core.errors import Unauthorized
from gateway.services import get_admin_token


def require_admin(view):
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        expected = get_admin_token()
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        given = given.strip()
        # An empty token never matches, even if the configured one were empty.
        valid = bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())
        if scheme.lower() != "bearer" or not valid:
            raise Unauthorized("this endpoint needs 'Authorization: Bearer <admin token>'")
        return view(*args, **kwargs)

    return guarded
