"""Idle and half-sent connections beside normal traffic: are other clients still served, and how fast?

    python -m bench.slow_clients [--idle 1000] [--half 500] [--seconds 30]            # own stack
    python -m bench.slow_clients --gateway http://127.0.0.1:5000                       # a running one

One client holds `--idle` TCP connections that send nothing and `--half` that send half a request
line, reconnecting whenever the server closes one (so the pressure never lets up), while another
sends /predict one request at a time. Prints the normal client's answers and latency percentiles
while the connections are held, and again after they are let go (recovery).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import numpy as np

from core.models import CANARY_TEXTS, FAST

HALF_REQUEST = b"POST /predict HTTP/1.1\r\nHost: gateway\r\nContent-Ty"


@dataclass
class Holder:
    host: str
    port: int
    payload: bytes
    opened: int = 0
    closed_by_server: int = 0
    refused: int = 0
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def hold_one(self) -> None:
        while not self.stopping.is_set():
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                self.refused += 1
                await asyncio.sleep(0.5)
                continue
            self.opened += 1
            try:
                if self.payload:
                    writer.write(self.payload)
                    await writer.drain()
                read = asyncio.ensure_future(reader.read(1))
                stop = asyncio.ensure_future(self.stopping.wait())
                done, _ = await asyncio.wait({read, stop}, return_when=asyncio.FIRST_COMPLETED)
                if read in done:
                    self.closed_by_server += 1
                for task in (read, stop):
                    task.cancel()
            except OSError:
                self.closed_by_server += 1
            finally:
                writer.close()


async def probe(url: str, seconds: float, timeout: float = 10.0) -> dict:
    """/predict one at a time for `seconds`: count answers and record latency."""
    latencies, failures = [], []
    body = {"text": list(CANARY_TEXTS), "do_fast": True}
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                async with session.post(f"{url}/predict", json=body) as response:
                    await response.read()
                    if response.status != 200:
                        failures.append(f"HTTP {response.status}")
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                failures.append(type(exc).__name__)
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.02)
    ms = np.array(latencies) if latencies else np.array([np.nan])
    return {"requests": len(latencies), "failed": len(failures), "failures": sorted(set(failures))[:5],
            "p50_ms": round(float(np.percentile(ms, 50)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "max_ms": round(float(ms.max()), 1)}


async def run(url: str, idle: int, half: int, seconds: float, recovery_seconds: float = 5.0) -> dict:
    parts = urlsplit(url)
    holders = [Holder(parts.hostname, parts.port, b""), Holder(parts.hostname, parts.port, HALF_REQUEST)]
    tasks = [asyncio.ensure_future(h.hold_one()) for h, n in zip(holders, (idle, half)) for _ in range(n)]
    await asyncio.sleep(2)  # let them connect
    held = await probe(url, seconds)
    for holder in holders:
        holder.stopping.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    after = await probe(url, recovery_seconds)
    return {"idle": idle, "half_sent": half, "seconds": seconds, "while_held": held, "after_release": after,
            "connections": {name: {"opened": h.opened, "closed_by_server": h.closed_by_server, "refused": h.refused}
                            for name, h in zip(("idle", "half_sent"), holders)}}


def measure(url: str, idle: int, half: int, seconds: float) -> dict:
    return asyncio.run(run(url, idle, half, seconds))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", help="a running gateway's URL (default: start a stack on free ports)")
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--half", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args(argv)
    if args.gateway:
        result = measure(args.gateway, args.idle, args.half, args.seconds)
    else:
        from bench.servers import bench_stack
        from core.settings import PROJECT_ROOT

        run_dir = PROJECT_ROOT / "run" / "slow_clients" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        stack = bench_stack(Path(run_dir), {"served_models": [FAST]})
        try:
            stack.start(300)
            result = measure(stack.gateway_url, args.idle, args.half, args.seconds)
        finally:
            stack.stop()
    print(json.dumps(result, indent=2))
    goal = result["while_held"]["failed"] == 0 and result["while_held"]["p99_ms"] < 1000 \
        and result["after_release"]["failed"] == 0
    print("goal met: every request answered, p99 < 1 s, recovered" if goal else "goal MISSED")
    return 0 if goal else 1


if __name__ == "__main__":
    raise SystemExit(main())
