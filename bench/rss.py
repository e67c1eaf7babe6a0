"""Peak resident memory per process, sampled by a background thread with psutil."""
from __future__ import annotations

import threading
from typing import Callable

import psutil


class PeakRss:
    """Every `interval` seconds, ask `roles()` for {role: [pids]} and keep each pid's largest RSS.

    roles() is re-asked on every sample, so workers that start (or restart) later are caught.
    """

    def __init__(self, roles: Callable[[], dict[str, list[int]]], interval: float = 0.5):
        self.roles = roles
        self.interval = interval
        self.peak: dict[tuple[str, int], int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="peak-rss")

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        try:
            roles = self.roles()
        except Exception:  # a server being stopped; the next sample will do
            return
        for role, pids in roles.items():
            for pid in pids:
                try:
                    rss = psutil.Process(pid).memory_info().rss
                except psutil.Error:
                    continue
                key = (role, pid)
                self.peak[key] = max(self.peak.get(key, 0), rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def report(self) -> dict[str, dict]:
        """{role: {"pids": n, "peak_rss_mb": per-process peaks, "sum_mb": their sum}}."""
        out: dict[str, dict] = {}
        for (role, pid), rss in sorted(self.peak.items()):
            entry = out.setdefault(role, {"peak_rss_mb": {}, "sum_mb": 0})
            entry["peak_rss_mb"][str(pid)] = round(rss / 2**20)
            entry["sum_mb"] += round(rss / 2**20)
        return out
