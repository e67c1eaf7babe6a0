"""Learning from the field, end to end on a live stack (docs/feedback.md):

1. a fast model trained on a 20,000-row stratified subset of NSMC train is served (v1);
2. the other 130,000 rows go in as feedback through `python -m sentiment_client feedback`;
3. `/train` (on the same 20,000 rows plus the feedback) is gated and promoted: test accuracy rises;
4. 5,000 of those rows again, labels flipped, from one source; `/train` again: they are
   quarantined (or the candidate is gated out), and the served answers barely move.

    python -m bench.feedback_learning [--postgres] [--base-rows 20000] [--poison-rows 5000]

Takes ~10 minutes on 2 cores; prints each job's result and the accuracy on the full NSMC test set.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import json
import subprocess
import sys
import time

import numpy as np
import requests

from bench.servers import bench_stack
from core.models import FAST
from core.settings import PROJECT_ROOT, get_settings
from core.store import ModelStore
from deploy.postgres import postgres_server
from train import fast
from train.archive import publish
from train.data import load_split

ADMIN, FEEDBACK = "bench-admin-token", "bench-feedback-token"
PROBE_ROWS = 2000  # NSMC test texts whose served labels are compared before and after the poisoned job


def write_tsv(path, texts, labels) -> None:
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\")
        writer.writerow(["document", "label"])
        writer.writerows([t.replace("\t", " "), int(label)] for t, label in zip(texts, labels) if t.strip())


def send(stack, path, source: str) -> str:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "sentiment_client", "feedback", str(path), "--url", stack.gateway_url,
                           "--token", FEEDBACK, "--source", source], capture_output=True, text=True)
    return f"{done.stderr.strip().splitlines()[-1]} (exit {done.returncode}, {time.monotonic() - started:.0f} s)"


def train(stack) -> dict:
    job = requests.post(f"{stack.gateway_url}/train", json={"wait": True}, timeout=3600,
                        headers={"Authorization": f"Bearer {ADMIN}"}).json()
    keep = ("state", "version", "test_accuracy", "serving_accuracy", "promoted", "reason", "elapsed_seconds",
            "feedback", "gate", "error")
    return {k: job.get(k) for k in keep}


def served_labels(stack, texts) -> list[str]:
    labels = []
    for start in range(0, len(texts), 64):
        answer = requests.post(f"{stack.gateway_url}/predict", json={"text": texts[start:start + 64]}, timeout=60)
        labels += [v["label"] for v in answer.json().values()]
    return labels


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--base-rows", type=int, default=20_000)
    parser.add_argument("--poison-rows", type=int, default=5_000)
    args = parser.parse_args(argv)
    nsmc = get_settings().nsmc_dir
    run_dir = PROJECT_ROOT / "run" / "bench" / time.strftime("learning-%Y%m%dT%H%M%SZ", time.gmtime())
    store_dir = run_dir / "store"
    base, rest = load_split("train", nsmc).subset_and_rest(args.base_rows)
    pipeline, metrics = fast.train_and_evaluate(nsmc, args.base_rows)
    print(f"v1: {args.base_rows} rows of NSMC train, test accuracy {metrics['test_accuracy']}", flush=True)
    publish(FAST, fast.save(pipeline, metrics, run_dir / "models" / "fast"), ModelStore(store_dir))
    write_tsv(run_dir / "feedback.tsv", rest.texts, rest.labels)
    pick = np.random.default_rng(0).choice(len(rest), args.poison_rows, replace=False)
    write_tsv(run_dir / "poison.tsv", [rest.texts[i] for i in pick], 1 - rest.labels[pick])
    probe = load_split("test", nsmc).subset(PROBE_ROWS).texts
    with postgres_server() if args.postgres else contextlib.nullcontext() as server:
        stack = bench_stack(run_dir / "stack", {
            "served_models": [FAST], "admin_token": ADMIN, "feedback_token": FEEDBACK, "model_store": store_dir,
            "models_dir": run_dir / "models", "train_limit": args.base_rows, "feedback_rate_limit": "1000/second",
            **({"database_url": server.url} if server else {})})
        try:
            stack.start(timeout=300)
            print("feedback:", send(stack, run_dir / "feedback.tsv", "partner"), flush=True)
            print("job 1:", json.dumps(train(stack), ensure_ascii=False), flush=True)
            before = served_labels(stack, probe)
            print("poison:", send(stack, run_dir / "poison.tsv", "attacker"), flush=True)
            print("job 2:", json.dumps(train(stack), ensure_ascii=False), flush=True)
            after = served_labels(stack, probe)
            changed = sum(a != b for a, b in zip(before, after))
            print(f"served labels changed by the poisoned round: {changed} of {len(probe)} NSMC test texts", flush=True)
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
