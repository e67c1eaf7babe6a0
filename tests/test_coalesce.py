"""core/coalesce.py: concurrent requests to a model merged into one TorchServe call, in threads.

The TorchServe client here is a stand-in that answers each text with its own position and length,
so every request can check that it got its own slice back; the live path is test_e2e_fast.py."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from core import coalesce
from core.coalesce import CoalescingClient
from core.errors import BackendError, BackendUnavailable
from core.torchserve import Answer


class SlowTorchServe:
    """predict() takes `seconds`, records each call, and answers {"text": t, "n": len(t)}."""

    def __init__(self, seconds: float = 0.05, fail: set[str] | None = None):
        self.seconds, self.fail, self.timeout = seconds, fail or set(), 10.0
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        self.concurrent = self.most_concurrent = 0

    def predict(self, model, texts, version=None, request_id=None, timeout=None, explain=False, fast_positive=None):
        with self.lock:
            self.calls.append({"model": model, "texts": list(texts), "request_id": request_id,
                               "fast_positive": fast_positive, "explain": explain})
            self.concurrent += 1
            self.most_concurrent = max(self.most_concurrent, self.concurrent)
        try:
            time.sleep(self.seconds)
            if self.fail & set(texts):
                raise BackendUnavailable("model 'fast' is not ready", status=503)
            return Answer([{"text": t, "n": len(t), "p": p} for t, p in zip(texts, fast_positive or [None] * len(texts))],
                          "3")
        finally:
            with self.lock:
                self.concurrent -= 1


def concurrently(client, requests: list[dict], workers: int = 16) -> list:
    def one(kwargs):
        try:
            return client.predict("fast", **kwargs)
        except BackendError as exc:
            return exc
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, requests))


def test_a_lone_request_is_sent_at_once_as_its_own_call():
    backend = SlowTorchServe(seconds=0)
    answer = CoalescingClient(backend, calls_in_flight=1).predict("fast", ["하나", "둘"], request_id="r1")
    assert answer.results == [{"text": "하나", "n": 2, "p": None}, {"text": "둘", "n": 1, "p": None}]
    assert answer.version == "3"
    assert backend.calls == [{"model": "fast", "texts": ["하나", "둘"], "request_id": "r1", "fast_positive": None,
                              "explain": False}]


def test_concurrent_requests_share_calls_and_each_gets_its_own_slice():
    backend = SlowTorchServe()
    requests = [{"texts": [f"review {i}"] * (1 + i % 3), "request_id": f"id{i}"} for i in range(24)]
    answers = concurrently(CoalescingClient(backend, calls_in_flight=1), requests)
    for request, answer in zip(requests, answers):
        assert [r["text"] for r in answer.results] == request["texts"]
    assert len(backend.calls) < len(requests) / 2  # 16 threads, one call in flight: most of them merged
    assert backend.most_concurrent == 1
    assert sum(len(c["texts"]) for c in backend.calls) == sum(len(r["texts"]) for r in requests)
    merged = max(backend.calls, key=lambda c: len(c["texts"]))
    assert "," in merged["request_id"]  # every request id travels with the call


def test_calls_in_flight_bounds_concurrent_calls_and_zero_turns_merging_off():
    backend = SlowTorchServe()
    concurrently(CoalescingClient(backend, calls_in_flight=2), [{"texts": [str(i)]} for i in range(20)])
    assert backend.most_concurrent == 2 and len(backend.calls) < 20

    backend = SlowTorchServe(seconds=0.01)
    concurrently(CoalescingClient(backend, calls_in_flight=0), [{"texts": [str(i)]} for i in range(20)])
    assert len(backend.calls) == 20 and all(len(c["texts"]) == 1 for c in backend.calls)


def test_fast_probabilities_stay_with_their_texts():
    backend = SlowTorchServe()
    requests = [{"texts": [f"t{i}", f"u{i}"], "fast_positive": [i / 100, 1 - i / 100]} for i in range(12)]
    answers = concurrently(CoalescingClient(backend, calls_in_flight=1), requests)
    for request, answer in zip(requests, answers):
        assert [(r["text"], r["p"]) for r in answer.results] == list(zip(request["texts"], request["fast_positive"]))


def test_explanations_and_pinned_versions_go_alone():
    backend = SlowTorchServe(seconds=0.02)
    client = CoalescingClient(backend, calls_in_flight=1)
    concurrently(client, [{"texts": [str(i)], "explain": True} for i in range(6)]
                 + [{"texts": [str(i)], "version": "2"} for i in range(6)])
    assert len(backend.calls) == 12


def test_a_failed_call_fails_its_requests_only_and_the_next_call_goes_out():
    backend = SlowTorchServe(fail={"bad"})
    client = CoalescingClient(backend, calls_in_flight=1)
    first = threading.Thread(target=lambda: client.predict("fast", ["slow one"]))
    first.start()
    time.sleep(0.01)  # the first call is in flight: these two go together in the next one
    answers = concurrently(client, [{"texts": ["bad"]}, {"texts": ["good"]}])
    first.join()
    assert all(isinstance(a, BackendUnavailable) for a in answers)
    assert client.predict("fast", ["good"]).results[0]["text"] == "good"


def test_a_call_is_bounded_in_requests_and_texts(monkeypatch):
    monkeypatch.setattr(coalesce, "MAX_REQUESTS", 4)
    monkeypatch.setattr(coalesce, "MAX_TEXTS", 6)
    backend = SlowTorchServe()
    concurrently(CoalescingClient(backend, calls_in_flight=1), [{"texts": ["a", "b"]} for _ in range(30)])
    assert max(len(c["texts"]) for c in backend.calls) <= 6
    assert max(len(c["request_id"].split(",")) if c["request_id"] else 0 for c in backend.calls) <= 4


def test_a_request_stuck_behind_a_call_times_out_with_a_clear_error():
    backend = SlowTorchServe(seconds=1.5)
    client = CoalescingClient(backend, calls_in_flight=1)
    first = threading.Thread(target=lambda: client.predict("fast", ["slow"], timeout=0.1))
    first.start()
    time.sleep(0.05)
    with pytest.raises(BackendError, match="did not answer within"):
        client.predict("fast", ["waits"], timeout=0.1)  # waits 2 x 0.1 + 1 s, then gives up
    first.join()
    assert [c["texts"] for c in backend.calls] == [["slow"]]  # the given-up request was never sent
