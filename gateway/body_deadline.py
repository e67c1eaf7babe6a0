"""The whole request body must arrive within a deadline, before any view runs.

A client that trickles its body (or announces more than it sends) would otherwise hold a greenlet
for as long as it likes. The body is read (and cached by Flask) under a gevent timeout; a late one
is answered 408 and its connection closed. Over-size bodies fail here too, as 413, unread.

gunicorn drops an application's `Connection: close` and, before the next request on the connection,
would wait out the keep-alive timeout for the rest of the body; shutting the socket's read side once
the 408 is written makes it close the connection at once.
"""
from __future__ import annotations

import socket

import gevent
from flask import Flask, after_this_request, request

from core.errors import RequestTimeout


def init_app(app: Flask, seconds: float) -> None:
    @app.before_request
    def read_body_within_deadline():
        if request.content_length or request.headers.get("Transfer-Encoding"):
            try:
                with gevent.Timeout(seconds):
                    request.get_data(cache=True)
            except gevent.Timeout:
                _close_after_answer()
                raise RequestTimeout(f"the request body did not arrive within {seconds:g}s") from None


def _close_after_answer() -> None:
    sock = request.environ.get("gunicorn.socket")
    if sock is None:
        return

    @after_this_request
    def close(response):
        response.call_on_close(lambda: _shutdown_read(sock))
        return response


def _shutdown_read(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass  # the client is gone already
