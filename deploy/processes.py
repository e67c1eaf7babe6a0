"""Long-running child processes in their own session, tracked by pid files."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable


def spawn(command: list[str], log_file: Path, pid_file: Path, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    """Start `command` detached from our terminal (its own process group), logging to log_file."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        process = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})},
                                   start_new_session=True)
    pid_file.write_text(f"{process.pid}\n")
    return process


def running_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None


def stop(pid_file: Path, timeout: float = 20.0) -> bool:
    """SIGTERM the process group named by pid_file, SIGKILL it after `timeout`; True if it was running."""
    pid = running_pid(pid_file)
    pid_file.unlink(missing_ok=True)
    if pid is None:
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _reap(pid)
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.2)
    return True


def _reap(pid: int) -> None:
    """Collect our exited child, else its zombie keeps the process group 'alive' to killpg."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child (another shell's `make stop`), or already reaped
        pass


def wait_for(condition: Callable[[], bool], timeout: float, what: str, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if not alive():
            raise RuntimeError(f"{what}: the process exited; see its log")
        time.sleep(0.5)
    raise TimeoutError(f"{what}: not ready after {timeout:.0f}s")
