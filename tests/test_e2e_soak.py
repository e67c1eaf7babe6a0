"""A short, bounded soak on both paths through the live gateway (bench/soak.py runs the long one)."""
import pytest

from bench.soak import soak
from train.data import load_split

pytestmark = pytest.mark.e2e


def test_short_soak_has_no_errors(full_stack, nsmc_dir):
    reviews = [t for t in load_split("test", nsmc_dir).texts[:600] if t.strip()]
    report = soak(full_stack, reviews, seconds=20, concurrency=4, warmup=3, window=10)
    print(report["paths"], report["rss_mb"]["growth"])
    for path, measured in report["paths"].items():
        assert measured["requests"] > 10, (path, measured)
        assert measured["errors"] == 0, (path, measured)
    assert any(name.startswith("worker accurate") for name in report["rss_mb"]["end"])
