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


class BlockedAccurate:
    """A predictor whose accurate model never answers until released."""

    def __init__(self):
        import threading

        self.release, self.calls = threading.Event(), 0

    def predict(self, model, texts, **kwargs):
        self.calls += 1
        self.release.wait(10)
        from core.torchserve import Answer
        return Answer([{"label": "positive", "confidence": 0.9} for _ in texts], "1")


def scored(label="positive", version="3"):
    from core.scoring import Scored
    return Scored([{"label": label, "confidence": 0.8, "model": "fast"}], {"fast": version}, unknown_ngrams=[0.25])


def test_a_full_shadow_queue_drops_and_counts_and_what_was_counted_reads_back():
    import time

    from gateway import instruments
    from gateway.live_signals import LiveSignals, live_values

    def dropped():
        return instruments.counted().get_sample_value("sentiment_shadow_dropped_total", {"reason": "queue_full"}) or 0

    backend = BlockedAccurate()
    signals = LiveSignals(backend, enabled=True, shadow_rate=1.0, shadow_queue=1)
    before = dropped()
    for _ in range(4):  # one taken by the shadow thread, one waiting in the queue, two dropped
        signals.observe("fast", ["좋다"], scored())
        time.sleep(0.05)
    assert dropped() - before == 2
    backend.release.set()
    for _ in range(50):
        if backend.calls == 2:
            break
        time.sleep(0.05)
    assert backend.calls == 2
    live = live_values(instruments.counted())["fast"]["3"]
    assert live["estimated_accuracy"] == 0.8 and live["unknown_ngram_share"] == 0.25 and live["positive_ratio"] == 1.0
    assert live["shadow_agreement"]["accurate v1"]["agreement"] == 1.0


def test_signals_off_count_nothing():
    from gateway import instruments
    from gateway.live_signals import LiveSignals

    signals = LiveSignals(BlockedAccurate(), enabled=False, shadow_rate=1.0, shadow_queue=1)
    before = instruments.counted().get_sample_value("sentiment_predictions_total",
                                                    {"model": "fast", "version": "9", "label": "negative"})
    signals.observe("fast", ["싫다"], scored("negative", version="9"))
    assert instruments.counted().get_sample_value("sentiment_predictions_total",
                                                  {"model": "fast", "version": "9", "label": "negative"}) == before
