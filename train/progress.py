"""Progress for long training steps on a terminal: one tqdm bar per step, ticking every second
against the step's expected duration (scikit-learn's fit reports nothing while it runs, so the
bar shows elapsed time against an estimate, and says so)."""
from __future__ import annotations

import threading

from tqdm import tqdm


class StepBars:
    def __init__(self, expected_seconds: dict[str, float]):
        self.expected = expected_seconds
        self._bar: tqdm | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, step: str) -> None:
        """Start the bar of `step` (ending the previous one): the `progress` callback of train.fast."""
        self.close()
        expected = self.expected.get(step, 1)
        self._bar = tqdm(total=round(expected), desc=f"{step} (est. {expected:.0f}s)", unit="s",
                         bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, args=(self._bar, self._stop), daemon=True)
        self._thread.start()

    @staticmethod
    def _tick(bar: tqdm, stop: threading.Event) -> None:
        while not stop.wait(1.0):
            if bar.n < bar.total - 1:  # never claims done before the step is
                bar.update(1)
            else:
                bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._stop.set()
            self._thread.join()
            self._bar.update(self._bar.total - self._bar.n)
            self._bar.close()
            self._bar = None
