"""Runtime concerns: logging, progress bars, device, thread count, precision and time-aware schedules.

Import this module (or set OMP_WAIT_POLICY yourself) before torch: with the default OpenMP
spin-waiting, two torch threads on a 2-core box that another process is also using run up to
10x slower than one thread; with OMP_WAIT_POLICY=PASSIVE they degrade gracefully.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

log = logging.getLogger(__name__)


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "huggingface_hub", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def progress(total: int, desc: str, unit: str = "step"):
    """A tqdm bar; when stderr is not a terminal (a log file) it refreshes rarely."""
    interactive = sys.stderr.isatty()
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        dynamic_ncols=True,
        mininterval=0.5 if interactive else 30.0,
        maxinterval=60.0,
        file=sys.stderr,
        ascii=not interactive,
    )


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def choose_device(requested: str) -> torch.device:
    """'auto' -> the first CUDA GPU when there is one, else the CPU."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"--device {requested}: no CUDA GPU is visible to torch")
    return torch.device(requested)


def describe_device(device: torch.device) -> str:
    """'cpu', or e.g. 'cuda (NVIDIA H100 80GB HBM3)'."""
    return f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else str(device)


def choose_precision(requested: str, device: torch.device | None = None) -> str:
    """'auto' -> bf16 on a GPU, and on a CPU only where it has native bf16 (AVX512-BF16/AMX);
    otherwise bf16 is emulated and measured 2.5x slower than fp32 for this model."""
    if requested != "auto":
        return requested
    if device is not None and device.type == "cuda":
        return "bf16"
    return "bf16" if cpu_flags() & {"avx512_bf16", "amx_bf16"} else "fp32"


class ThreadTuner:
    """Keeps torch's intra-op thread count at whichever of the candidates runs faster right now.

    Every `period` steps it runs one `window` of steps with the other candidate and keeps it if
    its tokens/s beat the current setting's last window by `margin`. On a shared 2-core machine
    this settles on 2 threads while the other core is free and on 1 while it is busy.
    """

    def __init__(self, setting: str, window: int = 25, period: int = 400, margin: float = 1.08):
        max_threads = os.cpu_count() or 1
        if setting == "auto":
            self.candidates = sorted({1, min(2, max_threads)})
        else:
            self.candidates = [int(setting)]
        self.current = self.candidates[-1]
        self.window, self.period, self.margin = window, period, margin
        self.step_no = 0
        self.trial: int | None = None
        self.acc_tokens, self.acc_time = 0, 0.0
        self.last_rate: dict[int, float] = {}
        self.history: list[tuple[int, int]] = [(0, self.current)]
        torch.set_num_threads(self.current)
        self._t = time.perf_counter()

    @property
    def threads(self) -> int:
        return self.trial or self.current

    def start(self) -> None:
        self._t = time.perf_counter()

    def record(self, tokens: int) -> None:
        """Call once per optimisation step with the number of (real) tokens in it."""
        now = time.perf_counter()
        self.acc_time += now - self._t
        self.acc_tokens += tokens
        self._t = now
        self.step_no += 1
        if len(self.candidates) == 1 or self.step_no % self.window:
            return
        rate = self.acc_tokens / max(self.acc_time, 1e-9)
        self.acc_tokens, self.acc_time = 0, 0.0
        if self.trial is not None:  # a trial window just ended: compare and decide
            base = self.last_rate.get(self.current, 0.0)
            self.last_rate[self.trial] = rate
            if rate > base * self.margin:
                log.info("threads %d -> %d (%.0f vs %.0f tokens/s)", self.current, self.trial, rate, base)
                self.current = self.trial
                self.history.append((self.step_no, self.current))
            self.trial = None
            torch.set_num_threads(self.current)
        else:
            self.last_rate[self.current] = rate
            if self.step_no % self.period == 0:
                self.trial = next(c for c in self.candidates if c != self.current)
                torch.set_num_threads(self.trial)
        self._t = time.perf_counter()


class TimedSchedule:
    """Linear warm-up then linear decay over 'progress' = max(step/total_steps, elapsed/max_seconds).

    Without a time cap this is the usual step-based schedule. With one, a slowed-down machine
    still ends the stage on time with a fully decayed learning rate, instead of being cut off
    at a high one. `done` tells the training loop to stop.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, total_steps: int, warmup: float, max_seconds: float | None):
        self.optimizer = optimizer
        self.total_steps = max(total_steps, 1)
        self.warmup = warmup
        self.max_seconds = max_seconds
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.started = time.perf_counter()
        self.step_no = 0
        self.time_bound = False
        self._apply()

    @property
    def progress(self) -> float:
        by_steps = self.step_no / self.total_steps
        if not self.max_seconds:
            return by_steps
        by_time = (time.perf_counter() - self.started) / self.max_seconds
        if by_time >= 1.0 and by_steps < 1.0:
            self.time_bound = True  # the cap, not the planned steps, ended the stage
        return max(by_steps, by_time)

    @property
    def done(self) -> bool:
        return self.progress >= 1.0

    def factor(self) -> float:
        p = self.progress
        if p < self.warmup:
            return max(p / self.warmup, 1e-3)
        return max(0.0, (1.0 - p) / max(1.0 - self.warmup, 1e-9))

    def _apply(self) -> None:
        f = self.factor()
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * f

    def step(self) -> None:
        self.step_no += 1
        self._apply()

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]
