"""Blocking calls off a gevent worker's event loop.

A database call blocks in C (SQLite's fsync, libpq's network wait), which under gevent stops every
other request of the worker. `run_blocking` hands it to gevent's pool of native threads and waits for
it cooperatively; in a process without gevent's patches (the Flask test client) it just calls it."""
from __future__ import annotations

from typing import Callable, TypeVar

import gevent
from gevent import monkey

T = TypeVar("T")


def run_blocking(function: Callable[..., T], *args) -> T:
    if monkey.is_module_patched("threading"):
        return gevent.get_hub().threadpool.apply(function, args)
    return function(*args)
