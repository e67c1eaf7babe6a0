"""python -m deploy up|down|status — run the service from the archives in the model store."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from deploy import processes
from deploy.stack import Stack
from deploy.registry import Registry
from train.archive import KINDS, archive_path


def served_archive(stack: Stack, kind: str) -> Path:
    """The version the registry says is served (promotions survive restarts), else the default build."""
    served = Registry(stack.model_store).serving(KINDS[kind].model_name)
    return stack.model_store / served[1]["file"] if served else archive_path(kind, store=stack.model_store)


def up(stack: Stack, timeout: float) -> int:
    if processes.running_pid(stack.run_dir / "torchserve.pid") or processes.running_pid(stack.run_dir / "gateway.pid"):
        print("already running; `make stop` first. Health:", json.dumps(stack.health(), ensure_ascii=False))
        return 1
    fast, bert = served_archive(stack, "fast"), served_archive(stack, "bert")
    if not fast.exists():
        print(f"error: {fast} is missing; run `make archive`", file=sys.stderr)
        return 1
    stack.models = [p.name for p in (fast, bert) if p.exists()]
    try:
        health = stack.start(timeout, accurate=bert.exists())
    except (TimeoutError, RuntimeError) as exc:
        print(f"error: {exc}; logs in {stack.run_dir}", file=sys.stderr)
        stack.stop()
        return 1
    print(json.dumps(health, indent=2, ensure_ascii=False))
    print(f"gateway: {stack.gateway_url}   logs: {stack.run_dir}/   stop: make stop")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for readiness")
    args = parser.parse_args(argv)
    stack = Stack()
    if args.action == "up":
        return up(stack, args.timeout)
    if args.action == "down":
        stopped = [name for name, stop in (("gateway", stack.stop_gateway), ("torchserve", stack.stop_torchserve)) if stop()]
        print("stopped: " + (", ".join(stopped) or "nothing was running"))
        return 0
    health = stack.health()
    print(json.dumps(health, indent=2, ensure_ascii=False) if health else "not running")
    return 0 if health else 1


if __name__ == "__main__":
    sys.exit(main())
