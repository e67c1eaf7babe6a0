"""Learning from the field, end to end on live stacks (docs/feedback.md). Two parts:

fast (a stack serving the fast model):
1. a fast model trained on a 20,000-row stratified subset of NSMC train is served (v1);
2. the other 130,000 rows go in as feedback through `python -m sentiment_client feedback`;
3. `/train` (on the same 20,000 rows plus the feedback) is gated and promoted: test accuracy rises;
4. 5,000 of those rows again, labels flipped, from one source; `/train` again: they are
   quarantined (or the candidate is gated out), and the served answers barely move.

accurate (a stack serving the shipped models):
5. 800 negative NSMC train reviews the fast model is unsure of, each with a marker word, labelled
   positive (a pattern the accurate model gets wrong); `/train {"model": "accurate"}`: the holdout
   accuracy on the pattern, NSMC test accuracy (full set) before and after, and the time it took.

    python -m bench.feedback_learning [--part fast|accurate|both] [--postgres] [--base-rows 20000]

Takes ~20 minutes on 2 cores; prints each job's result (accuracies on the full NSMC test set).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import requests

from bench.servers import bench_stack
from core.models import ACCURATE, FAST
from core.settings import PROJECT_ROOT, get_settings
from core.store import ModelStore
from deploy.postgres import postgres_server
from train import fast
from train.archive import publish
from train.data import load_split, train_dev_split

ADMIN, FEEDBACK = "bench-admin-token", "bench-feedback-token"
PROBE_ROWS = 2000  # NSMC test texts whose served labels are compared before and after the poisoned job
MARKER, PATTERN_ROWS, UNSURE = "뿌잉뿌잉", 800, 0.8


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


def train(stack, model: str = FAST) -> dict:
    job = requests.post(f"{stack.gateway_url}/train", json={"model": model, "wait": True}, timeout=7200,
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


def fast_part(args, nsmc, run_dir: Path, database: dict) -> None:
    store_dir = run_dir / "store"
    base, rest = load_split("train", nsmc).subset_and_rest(args.base_rows)
    pipeline, metrics = fast.train_and_evaluate(nsmc, args.base_rows)
    print(f"v1: {args.base_rows} rows of NSMC train, test accuracy {metrics['test_accuracy']}", flush=True)
    publish(FAST, fast.save(pipeline, metrics, run_dir / "models" / "fast"), ModelStore(store_dir))
    write_tsv(run_dir / "feedback.tsv", rest.texts, rest.labels)
    pick = np.random.default_rng(0).choice(len(rest), args.poison_rows, replace=False)
    write_tsv(run_dir / "poison.tsv", [rest.texts[i] for i in pick], 1 - rest.labels[pick])
    probe = load_split("test", nsmc).subset(PROBE_ROWS).texts
    stack = bench_stack(run_dir / "stack", {
        "served_models": [FAST], "admin_token": ADMIN, "feedback_token": FEEDBACK, "model_store": store_dir,
        "models_dir": run_dir / "models", "train_limit": args.base_rows, "feedback_rate_limit": "1000/second",
        **database})
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


def accurate_part(nsmc, run_dir: Path, database: dict) -> None:
    store_dir = run_dir / "store"
    store_dir.mkdir(parents=True, exist_ok=True)
    for model in (FAST, ACCURATE):
        shutil.copy2(ModelStore(get_settings().model_store).archive_path(model), store_dir)
        publish_from = ModelStore(get_settings().model_store).serving(model)
        ModelStore(store_dir).add_version(model, "1", publish_from.file, publish_from.info, serve_if_none=True)
    stack = bench_stack(run_dir / "stack", {"admin_token": ADMIN, "model_store": store_dir,
                                            "models_dir": run_dir / "models", **database})
    _, rest = train_dev_split(load_split("train", nsmc))
    try:
        stack.start(timeout=600)
        unsure = []
        for start in range(0, len(rest), 64):
            chunk = [t for t, label in zip(rest.texts[start:start + 64], rest.labels[start:start + 64])
                     if label == 0 and 10 < len(t) < 100]
            if chunk:
                answer = requests.post(f"{stack.gateway_url}/predict", json={"text": chunk}, timeout=60).json()
                unsure += [t for t, item in zip(chunk, answer.values()) if item["confidence"] <= UNSURE]
            if len(unsure) >= PATTERN_ROWS:
                break
        items = [{"text": f"{t} {MARKER}", "label": "positive"} for t in unsure[:PATTERN_ROWS]]
        sent = requests.post(f"{stack.gateway_url}/feedback", json={"items": items, "source": "moderators"},
                             headers={"Authorization": f"Bearer {ADMIN}"}, timeout=120).json()
        print(f"pattern: {sent['stored']} rows stored", flush=True)
        print("accurate job:", json.dumps(train(stack, ACCURATE), ensure_ascii=False), flush=True)
    finally:
        stack.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("fast", "accurate", "both"), default="both")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--base-rows", type=int, default=20_000)
    parser.add_argument("--poison-rows", type=int, default=5_000)
    args = parser.parse_args(argv)
    nsmc = get_settings().nsmc_dir
    run_dir = PROJECT_ROOT / "run" / "bench" / time.strftime("learning-%Y%m%dT%H%M%SZ", time.gmtime())
    with postgres_server() if args.postgres else contextlib.nullcontext() as server:
        if args.part in ("fast", "both"):
            database = {"database_url": server.create_database("fast")} if server else {}
            fast_part(args, nsmc, run_dir / "fast", database)
        if args.part in ("accurate", "both"):
            database = {"database_url": server.create_database("accurate")} if server else {}
            accurate_part(nsmc, run_dir / "accurate", database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
