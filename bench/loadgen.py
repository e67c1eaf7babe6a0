"""Closed-loop HTTP load: N concurrent clients, each sending its next request when the last answers.

An asyncio client (aiohttp) with one keep-alive connection per client, so connection set-up is
never part of a measured latency, and one Python process drives 32 clients without threads.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp
import numpy as np


@dataclass
class Load:
    url: str
    bodies: list  # JSON bodies, sent round-robin; each client starts at its own share of the list
    headers: dict = field(default_factory=dict)
    ok_statuses: tuple[int, ...] = (200,)


@dataclass
class Measured:
    requests: int
    errors: int
    seconds: float
    latencies_ms: np.ndarray
    first_error: str | None = None

    @classmethod
    def merge(cls, runs: list[Measured]) -> Measured:
        return cls(sum(r.requests for r in runs), sum(r.errors for r in runs), sum(r.seconds for r in runs),
                   np.concatenate([r.latencies_ms for r in runs]), next((r.first_error for r in runs if r.first_error), None))

    def summary(self, reviews_per_request: int) -> dict:
        ms = self.latencies_ms if self.latencies_ms.size else np.array([np.nan])
        return {
            "requests": self.requests, "errors": self.errors,
            "req_per_s": round(self.requests / self.seconds, 1),
            "reviews_per_s": round(self.requests * reviews_per_request / self.seconds, 1),
            **{f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 90, 99)},
            **({"first_error": self.first_error} if self.first_error else {}),
        }


async def _client(session, load: Load, offset: int, warm_until: float, stop_at: float, out: dict) -> None:
    i = offset
    while True:
        started = time.perf_counter()
        if started >= stop_at:
            return
        body = load.bodies[i % len(load.bodies)]
        i += 1
        try:
            async with session.post(load.url, json=body, headers=load.headers) as response:
                await response.read()
                ok = response.status in load.ok_statuses
                problem = None if ok else f"HTTP {response.status}: {(await response.text())[:200]}"
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            ok, problem = False, repr(exc)
        finished = time.perf_counter()
        if not warm_until <= finished <= stop_at:
            continue  # counted only when it completes inside the measured window
        if ok:
            out["latencies"].append(finished - started)
        else:
            out["errors"] += 1
            out["first_error"] = out["first_error"] or problem


async def _drive(load: Load, concurrency: int, warmup: float, duration: float, timeout: float) -> Measured:
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    out = {"latencies": [], "errors": 0, "first_error": None}
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        now = time.perf_counter()
        warm_until, stop_at = now + warmup, now + warmup + duration
        share = max(1, len(load.bodies) // concurrency)  # clients apart: unique bodies stay unique
        await asyncio.gather(*(_client(session, load, k * share, warm_until, stop_at, out) for k in range(concurrency)))
    return Measured(len(out["latencies"]), out["errors"], duration,
                    np.array(out["latencies"]) * 1000, out["first_error"])


def drive(load: Load, concurrency: int, warmup: float, duration: float, timeout: float = 60) -> Measured:
    """Keep `concurrency` requests in flight for warmup + duration seconds; measure the last `duration`."""
    return asyncio.run(_drive(load, concurrency, warmup, duration, timeout))
