"""gateway/instruments.py: many observations written at once read as the same histogram."""
import random

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from gateway.instruments import observe_many


def exposition(registry) -> list[bytes]:
    return [line for line in generate_latest(registry).splitlines() if b"_created" not in line]


def test_observe_many_equals_one_observe_per_value():
    one, many = CollectorRegistry(), CollectorRegistry()
    buckets = (.55, .6, .7, .9, 1)
    each = Histogram("sentiment_test", "t", ["model"], buckets=buckets, registry=one).labels("fast")
    bulk = Histogram("sentiment_test", "t", ["model"], buckets=buckets, registry=many).labels("fast")
    rng = random.Random(7)
    values = [rng.random() for _ in range(500)] + [.55, .6, .7, .9, 1.0, 1.5, 0.0]
    for value in values:
        each.observe(value)
    observe_many(bulk, values)
    observe_many(bulk, [])
    assert exposition(one) == exposition(many)
    assert any(b'le="0.6"' in line for line in exposition(many))
