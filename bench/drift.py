"""The live signals on NSMC-like traffic and on a shifted stream, beside each version's reference.

    python -m bench.drift [--texts 1000] [--shadow-rate 0.2]

Starts a stack with the project's archives on free loopback ports (run dir under run/bench/),
sends NSMC test reviews (not the reference sample), then text unlike movie reviews (Korean economic
news and English reviews, as tests/test_e2e_live_signals.py sends), all on the fast path, 10 texts a request,
and prints what GET /metrics counted in each phase next to the serving versions' references.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import requests

from bench.servers import bench_stack
from core.models import FAST
from core.settings import PROJECT_ROOT
from train.data import load_split
from train.reference import EVERY


def shifted_stream() -> list[str]:
    import itertools

    news = [f"{s} {o} {v}" for s, o, v in itertools.product(
        ["정부는", "한국은행은", "서울시는", "기획재정부는", "국토교통부는", "금융위원회는"],
        ["내년도 예산안을", "기준금리를", "대중교통 요금 인상안을", "경제성장률 전망치를", "부동산 공급 대책을", "수출입 통계를"],
        ["발표했다", "국회에 제출했다고 밝혔다", "동결하기로 결정했다", "검토하고 있다고 전했다", "하향 조정했다"])]
    english = [f"The {n} was {a}, {e}" for n, a, e in itertools.product(
        ["movie", "plot", "soundtrack", "cast", "ending"], ["wonderful", "dull", "surprising", "forgettable"],
        ["honestly", "I think", "in my view"])]
    return news + english


def counted(url: str) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, float] = {}
    for family in text_string_to_metric_families(requests.get(f"{url}/metrics", timeout=10).text):
        for sample in family.samples:
            if sample.labels.get("model", FAST) == FAST or sample.name.startswith("sentiment_shadow"):
                out[sample.name + json.dumps(sample.labels, sort_keys=True)] = sample.value
    return out


def phase(before: dict, after: dict) -> dict:
    def moved(prefix: str, **labels) -> float:
        return sum(v - before.get(k, 0.0) for k, v in after.items()
                   if k.startswith(prefix + "{") and all(f'"{n}": "{x}"' in k for n, x in labels.items()))
    texts = moved("sentiment_prediction_confidence_count")
    shadow = moved("sentiment_shadow_texts_total")
    return {"texts": int(texts),
            "estimated_accuracy": round(moved("sentiment_prediction_confidence_sum") / texts, 4),
            "positive_ratio": round(moved("sentiment_predictions_total", label="positive") / texts, 4),
            "unknown_ngram_share": round(moved("sentiment_unknown_ngram_share_sum")
                                         / moved("sentiment_unknown_ngram_share_count"), 4),
            "shadow_agreement": round(moved("sentiment_shadow_texts_total", outcome="agree") / shadow, 4) if shadow else None,
            "shadow_texts": int(shadow)}


def send(url: str, texts: list[str]) -> None:
    with requests.Session() as session:
        for i in range(0, len(texts), 10):
            session.post(f"{url}/predict", json={"text": texts[i:i + 10], "do_fast": True}, timeout=60).raise_for_status()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=1000, help="NSMC test reviews in the first phase")
    parser.add_argument("--shadow-rate", type=float, default=0.2)
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    stack = bench_stack(PROJECT_ROOT / "run" / "bench" / f"drift-{stamp}", {"shadow_rate": args.shadow_rate})
    nsmc = [t for i, t in enumerate(load_split("test", args.data_dir).texts) if i % EVERY != 0 and t.strip()]
    try:
        stack.start(timeout=600)
        url = stack.gateway_url
        start = counted(url)
        send(url, nsmc[:args.texts])
        time.sleep(2)  # the shadow queue drains
        middle = counted(url)
        send(url, shifted_stream())
        time.sleep(2)
        end = counted(url)
        models = requests.get(f"{url}/models", timeout=10).json()
    finally:
        stack.stop()
    reference = models[FAST]["serving"]["reference"]
    print(f"fast v{models[FAST]['serving']['version']} reference (held-out NSMC, {reference['rows']} texts): "
          f"estimated accuracy {reference['confidence_mean']}, positive ratio {reference['positive_ratio']}, "
          f"unknown n-gram share {reference['unknown_ngram_share']}")
    print(f"accurate v{models['accurate']['serving']['version']} reference: "
          f"estimated accuracy {models['accurate']['serving']['reference']['confidence_mean']}")
    print("NSMC test traffic:", json.dumps(phase(start, middle)))
    print("shifted stream:   ", json.dumps(phase(middle, end)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
