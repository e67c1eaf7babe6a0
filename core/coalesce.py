"""Requests that arrive together go to TorchServe as one call.

Each gateway worker keeps at most `calls_in_flight` calls in flight per model (a setting; 2 by
default: one being answered while the next is sent, so TorchServe's worker is not left idle). A request that finds them all in flight waits; when one returns, the requests that queued
behind it go out as the next call, their texts concatenated, and each gets its own slice of the
answer back. A lone request
never waits for company (no batching delay): it is sent at once. Under load, one call carries
many requests, so the HTTP round trip, TorchServe's frontend and its Python worker are paid once
a call rather than once a request (README "Performance").

There is no background thread: a request that finds a call free makes it (the leader) and, when it
returns, hands the lead to the oldest waiting request. That works the same with real
threads and with gevent's patched ones.

Requests with an explanation or a pinned version go alone, and so does every request when
`calls_in_flight` is 0.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from core.errors import BackendError, BackendTimeout
from core.torchserve import Answer, TorchServeClient

# One call's bounds: its texts, their characters (4 UTF-8 bytes each at most, under TorchServe's
# max_request_size of 1 MiB), and the request ids joined into one X-Request-Id header (Netty caps
# a header block at 8 KiB; ids are at most 128 characters).
MAX_TEXTS = 256
MAX_CHARS = 200_000
MAX_REQUESTS = 32


@dataclass(eq=False)
class _Job:
    texts: list[str]
    fast_positive: list[float] | None
    request_id: str | None
    wake: threading.Event = field(default_factory=threading.Event)  # set when `lead` or `finished` changes
    batch: list | None = None  # set when this job's request is to make the call for these jobs
    finished: bool = False
    answer: Answer | None = None
    error: BaseException | None = None

    @property
    def chars(self) -> int:
        return sum(len(t) for t in self.texts)


@dataclass(eq=False)
class _Lane:
    """One model's queue in this process."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: deque = field(default_factory=deque)
    in_flight: int = 0  # calls made and not yet answered


class CoalescingClient:
    """`predict` as TorchServeClient's, with concurrent calls to a model merged into one."""

    def __init__(self, client: TorchServeClient, calls_in_flight: int = 2,
                 on_call: Callable[[str, int], None] | None = None):
        """`on_call(model, requests)` is told how many requests each call carried (metrics)."""
        self.client = client
        self.calls_in_flight = calls_in_flight
        self.on_call = on_call
        self._lanes: dict[str, _Lane] = {}
        self._lanes_lock = threading.Lock()

    def predict(self, model: str, texts: list[str], version: str | None = None, request_id: str | None = None,
                timeout: float | None = None, explain: bool = False,
                fast_positive: list[float] | None = None) -> Answer:
        if explain or version is not None or self.calls_in_flight == 0:
            return self.client.predict(model, texts, version, request_id, timeout, explain, fast_positive)
        lane = self._lane(model)
        job = _Job(list(texts), fast_positive, request_id)
        with lane.lock:
            lane.pending.append(job)
            if lane.in_flight < self.calls_in_flight:  # then nothing else waits: pending is [job]
                lane.in_flight += 1
                self._lead(lane)
        # Behind at most one call in flight, then its own: past twice the timeout, something is stuck.
        wait = 2 * (timeout or self.client.timeout) + 1
        while True:
            if job.batch is not None:
                self._call(model, lane, job.batch, timeout)  # job's own call: it is finished after it
            if job.finished:
                break
            woken = job.wake.wait(wait)
            job.wake.clear()  # the state is read after this, so a wake-up set meanwhile is not lost
            if not woken:
                with lane.lock:
                    if job.batch is None and not job.finished:
                        if job in lane.pending:
                            lane.pending.remove(job)
                        raise BackendTimeout(f"model '{model}' did not answer within {wait:g}s")
        if job.error is not None:
            raise job.error
        return job.answer

    def _lane(self, model: str) -> _Lane:
        with self._lanes_lock:
            return self._lanes.setdefault(model, _Lane())

    @classmethod
    def _lead(cls, lane: _Lane) -> None:
        """Under the lane's lock, with a call slot held: the oldest job makes the next call."""
        batch = cls._take(lane)
        batch[0].batch = batch
        batch[0].wake.set()

    @staticmethod
    def _take(lane: _Lane) -> list[_Job]:
        """The oldest waiting jobs that fit one call (the first always does)."""
        batch, texts, chars = [], 0, 0
        while lane.pending and len(batch) < MAX_REQUESTS:
            job = lane.pending[0]
            if batch and (texts + len(job.texts) > MAX_TEXTS or chars + job.chars > MAX_CHARS
                          or (job.fast_positive is None) != (batch[0].fast_positive is None)):
                break
            batch.append(lane.pending.popleft())
            texts, chars = texts + len(job.texts), chars + job.chars
        return batch

    def _call(self, model: str, lane: _Lane, batch: list[_Job], timeout: float | None) -> None:
        try:
            texts = [t for job in batch for t in job.texts]
            fast_positive = ([p for job in batch for p in job.fast_positive]
                             if batch[0].fast_positive is not None else None)
            ids = ",".join(job.request_id for job in batch if job.request_id) or None
            if self.on_call:
                self.on_call(model, len(batch))
            answer = self.client.predict(model, texts, request_id=ids, timeout=timeout, fast_positive=fast_positive)
            start = 0
            for job in batch:
                job.answer = Answer(answer.results[start:start + len(job.texts)], answer.version)
                start += len(job.texts)
        except BackendError as exc:
            for job in batch:
                job.error = exc
        except BaseException as exc:  # a bug or a kill: nobody waits forever
            for job in batch:
                job.error = BackendError(f"model '{model}' call failed: {exc!r}", status=502)
            raise
        finally:
            with lane.lock:
                for job in batch:
                    job.batch, job.finished = None, True
                    job.wake.set()
                if lane.pending:  # the call slot passes on
                    self._lead(lane)
                else:
                    lane.in_flight -= 1
