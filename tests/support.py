"""Helpers more than one test module uses (tests/helpers.py has the rest; the repository root is
core.paths.PROJECT_ROOT, the in-process gateway the `client` fixture in tests/conftest.py)."""
from __future__ import annotations

import subprocess

import requests


def predict(stack, body=None, timeout: float = 60, **kwargs) -> requests.Response:
    """POST /predict to a live stack's gateway; `kwargs` go to requests (headers, data, ...)."""
    return requests.post(f"{stack.gateway_url}/predict", json=body, timeout=timeout, **kwargs)


def assert_ok(result: subprocess.CompletedProcess) -> None:
    """A command the test ran exited 0; else its output is the failure message."""
    assert result.returncode == 0, f"`{' '.join(map(str, result.args))}` exited {result.returncode}:\n" \
                                   f"{result.stdout}\n{result.stderr}"
