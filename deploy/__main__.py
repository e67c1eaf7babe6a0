"""python -m deploy up|down|status|migrate — run the service from the model store's registry.

    python -m deploy torchserve|gateway|reconcile — one process of a stack, in the foreground (what
    `up` starts in the background; what each container of a pod runs).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from core.models import FAST
from deploy import processes, reconciler
from deploy.stack import Stack


def up(stack: Stack, timeout: float) -> int:
    if processes.running_pid(stack.run_dir / "torchserve.pid") or processes.running_pid(stack.run_dir / "gateway.pid"):
        print("already running; `make stop` first. Health:", json.dumps(stack.health(), ensure_ascii=False))
        return 1
    stack.store.migrate()
    loads = stack.startup_models()
    if not any(load.startswith(f"{FAST}=") for load in loads):
        print(f"error: no servable {FAST} archive in {stack.store_dir}; run `make archive`", file=sys.stderr)
        return 1
    missing = [m for m in stack.models if not any(load.startswith(f"{m}=") for load in loads)]
    if missing:  # e.g. no BERT model to archive: serve what there is, and say so
        print(f"note: no servable archive for {', '.join(missing)}; serving {FAST} only", file=sys.stderr)
        stack.settings.served_models = [m for m in stack.models if m not in missing]
    try:
        health = stack.start(timeout)
    except (TimeoutError, RuntimeError) as exc:
        print(f"error: {exc}; logs in {stack.run_dir}", file=sys.stderr)
        stack.stop()
        return 1
    print(json.dumps(health, indent=2, ensure_ascii=False))
    print(f"gateway: {stack.gateway_url}   logs: {stack.run_dir}/   stop: make stop")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["up", "down", "status", "migrate", "torchserve", "gateway", "reconcile"])
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for readiness")
    args = parser.parse_args(argv)
    stack = Stack()
    if args.action == "torchserve":
        stack.exec_torchserve()
    if args.action == "gateway":
        stack.exec_gateway()
    if args.action == "reconcile":
        logging.basicConfig(level=stack.settings.log_level.upper(),
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        reconciler.run(stack)
        return 0
    if args.action == "up":
        return up(stack, args.timeout)
    if args.action == "migrate":
        for line in stack.store.migrate():
            print(f"model store: {line}")
        return 0
    if args.action == "down":
        stopped = [name for name, stop in (("gateway", stack.stop_gateway), ("reconciler", stack.stop_reconciler),
                                           ("torchserve", stack.stop_torchserve)) if stop()]
        print("stopped: " + (", ".join(stopped) or "nothing was running"))
        return 0
    health = stack.health()
    print(json.dumps(health, indent=2, ensure_ascii=False) if health else "not running")
    return 0 if health else 1


if __name__ == "__main__":
    sys.exit(main())
