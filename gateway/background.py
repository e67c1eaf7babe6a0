"""Work done off the request path: a bounded queue and the daemon thread that drains it (a greenlet
under gevent). The thread starts on the first `put` in the process that uses it, after gunicorn's
fork. `put` never blocks: a full queue says so, and the caller counts what it dropped."""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)


class BackgroundQueue:
    def __init__(self, name: str, maxsize: int, handle: Callable[[list], None], batch: int = 1,
                 linger_seconds: float = 0.0):
        """`handle(items)` gets up to `batch` queued items at a time, oldest first; after the first
        item it waits up to `linger_seconds` for more, so that light traffic is handled in batches too."""
        self.name, self.handle, self.batch, self.linger = name, handle, batch, linger_seconds
        self._queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, item) -> bool:
        """Queue `item`; False when the queue is full (the item is dropped)."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            return False
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._worker.start()
        return True

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            until = time.monotonic() + self.linger
            while len(items) < self.batch:
                try:
                    items.append(self._queue.get(timeout=max(0.0, until - time.monotonic())) if self.linger
                                 else self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.handle(items)
            except Exception:  # a bug in a handler must not end the thread: later items still go
                log.exception("%s: could not handle %d items", self.name, len(items))
