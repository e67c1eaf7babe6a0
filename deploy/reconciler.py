"""`python -m deploy reconcile`: keep this stack's TorchServe serving what the shared registry says.

One round every `reconcile_seconds` (core/reconcile.py does the work). Each round's outcome goes to
<run_dir>/reconcile.json (time, default version per model, actions, errors) for operators and tests.
"""
from __future__ import annotations

import logging
import signal
import threading
import time

from core.clock import now
from core.files import write_json_atomic
from core.reconcile import reconcile
from deploy.stack import Stack

log = logging.getLogger("reconciler")
STATUS_FILE = "reconcile.json"


def run(stack: Stack) -> None:
    settings, store = stack.settings, stack.store
    client = stack.client(timeout=settings.timeout_seconds)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    while not stopping.is_set():
        started = time.monotonic()
        outcome = reconcile(store, client, settings.served_models, drain_seconds=settings.timeout_seconds)
        status = {"at": now(), "seconds": round(time.monotonic() - started, 2), "serving": outcome.serving,
                  "actions": outcome.actions, "errors": outcome.errors}
        write_json_atomic(stack.run_dir / STATUS_FILE, status, indent=None)
        stopping.wait(settings.reconcile_seconds)
    log.info("stopped")
