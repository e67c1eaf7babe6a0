"""The whole request body must arrive within a deadline, before any view runs.

A client that trickles its body (or announces more than it sends) would otherwise hold a greenlet
for as long as it likes. The body is read (and cached by Flask) under a gevent timeout; a late one
is answered 408 and its connection closed. Over-size bodies fail here too, as 413, unread.
"""
from __future__ import annotations

import gevent
from flask import Flask, request

from core.errors import RequestTimeout


def init_app(app: Flask, seconds: float) -> None:
    @app.before_request
    def read_body_within_deadline():
        if request.content_length or request.headers.get("Transfer-Encoding"):
            try:
                with gevent.Timeout(seconds):
                    request.get_data(cache=True)
            except gevent.Timeout:
                raise RequestTimeout(message=f"the request body did not arrive within {seconds:g}s") from None
