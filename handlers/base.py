"""Shared TorchServe handler: request parsing, batching and the response shape.

A subclass loads its model in `load_model` and scores cleaned texts in `predict_positive`;
everything a client sees (accepted inputs, labels, confidences, errors) is decided here.

Accepted request bodies, one per TorchServe request in a batch:
  {"text": "..."} or {"text": ["...", ...]}    JSON (also "texts" / "data" as the key)
  ["...", ...]                                  JSON list
  "..."                                         plain text, one review
With "explain": true in a JSON object, each result also has an "explanation" (handlers/explain.py).
With "fast_positive": [p, ...] (one P(positive) per text, from the fast model), a handler that
blends with the fast model uses those instead of scoring the texts again (the gateway sends them).
A single text answers one {"label", "confidence"} object; a list answers a list of them.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import numpy as np
from ts.torch_handler.base_handler import BaseHandler

from handlers.artifacts import LABELS, VERSION_HEADER
from handlers.explain import Explanation, occlusion, word_spans
from handlers.text import clean_text

log = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json"

# The gateway enforces the public limits; these only keep one direct caller from starving a worker.
MAX_TEXTS_PER_REQUEST = 256
MAX_TEXT_CHARS = 5000
MAX_EXPLAINED_TEXTS = 32


class BadRequest(ValueError):
    """A request this handler cannot score; it fails alone, not its batch."""


@dataclass
class ParsedRequest:
    texts: list[str]
    single: bool  # answer an object rather than a list
    explain: bool = False  # also say which spans pushed each label
    raw: list[str] | None = None  # the texts as sent (explanations point into them)
    fast_positive: list[float] | None = None  # the fast model's P(positive) per text, when the caller has it


@dataclass
class ScoredRequest:
    positive: list[float]  # P(positive) per text
    single: bool
    explanations: list[dict] | None = None
    signals: dict[str, list[float]] | None = None  # per text, from score_texts (e.g. unknown_ngrams)


def _decode(payload):
    if isinstance(payload, (bytes, bytearray)):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest("body is not valid UTF-8") from exc
        try:
            return json.loads(payload)
        except json.JSONDecodeError:
            return payload  # a plain-text review
    return payload


def parse_request(row: dict) -> ParsedRequest:
    """Turn one TorchServe request row into texts to score, or raise BadRequest."""
    payload = _decode(row.get("data", row.get("body")) if isinstance(row, dict) else row)
    explain, fast_positive = False, None
    if isinstance(payload, dict):
        key = next((k for k in ("text", "texts", "data") if k in payload), None)
        if key is None:
            raise BadRequest("JSON body needs a 'text' field")
        explain = payload.get("explain") is True
        fast_positive = payload.get("fast_positive")
        payload = payload[key]
    if isinstance(payload, str):
        texts, single = [payload], True
    elif isinstance(payload, list):
        texts, single = payload, False
    else:
        raise BadRequest("'text' must be a string or a list of strings")
    if not texts:
        raise BadRequest("'text' is empty")
    if len(texts) > MAX_TEXTS_PER_REQUEST:
        raise BadRequest(f"at most {MAX_TEXTS_PER_REQUEST} texts per request")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise BadRequest(f"text[{i}] is not a string")
        if len(text) > MAX_TEXT_CHARS:
            raise BadRequest(f"text[{i}] is longer than {MAX_TEXT_CHARS} characters")
    if explain and len(texts) > MAX_EXPLAINED_TEXTS:
        raise BadRequest(f"at most {MAX_EXPLAINED_TEXTS} texts per request with explain")
    if fast_positive is not None and not _probabilities(fast_positive, len(texts)):
        raise BadRequest("'fast_positive' must be a list of one probability per text")
    return ParsedRequest(texts, single, explain, fast_positive=fast_positive)


def _probabilities(values, count: int) -> bool:
    return (isinstance(values, list) and len(values) == count
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0 for v in values))


def quiet_worker_logs() -> None:
    """TorchServe's Python worker logs two INFO lines a batch on its root logger ("Backend received
    inference", and each backend metric as a [METRICS] line), which the frontend then reads and
    parses: ~15% of a fast worker's CPU, for metrics nothing here reads (the frontend's own
    ts_inference_* and ts_queue_* metrics stay). Warnings and errors still pass, and so does
    everything the handlers log."""
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("handlers").setLevel(logging.INFO)


class SentimentHandler(BaseHandler):
    """Template for binary sentiment handlers; subclasses override the two model hooks."""

    def load_model(self, model_dir: str, properties: dict) -> None:
        raise NotImplementedError

    def predict_positive(self, texts: list[str], fast_positive: np.ndarray | None = None) -> np.ndarray:
        """P(positive) for each cleaned text, in order. `fast_positive` holds the fast model's
        P(positive) per text where the caller sent it, NaN where not (blending handlers use it)."""
        raise NotImplementedError

    def score_texts(self, texts: list[str], fast_positive: np.ndarray | None = None
                    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """P(positive) per text, and per-text signals that come free with the scoring (answered
        beside label and confidence; the gateway turns them into metrics). None by default."""
        return self.predict_positive(texts, fast_positive), {}

    def explain_text(self, text: str) -> Explanation:
        """Per-character weights of one cleaned text; by default occlusion on the model as served
        (for a blending handler: its own model, since the fast part comes with the request)."""
        return occlusion(self.predict_positive, text)

    def initialize(self, context):
        quiet_worker_logs()
        self.context = context
        self.manifest = context.manifest
        properties = context.system_properties
        # The `handler:` section of the archive's model-config YAML (model_config/<model>.yaml).
        self.handler_config = (getattr(context, "model_yaml_config", None) or {}).get("handler") or {}
        started = time.perf_counter()
        self.load_model(properties["model_dir"], properties)
        log.info("%s ready in %.1fs", type(self).__name__, time.perf_counter() - started)
        self.initialized = True

    def preprocess(self, data):
        """One ParsedRequest (cleaned texts) or BadRequest per request in the batch."""
        parsed = []
        for row in data:
            try:
                request = parse_request(row)
                parsed.append(ParsedRequest([clean_text(t) for t in request.texts], request.single,
                                            request.explain, request.texts, request.fast_positive))
            except BadRequest as exc:
                parsed.append(exc)
        return parsed

    def inference(self, data, *args, **kwargs):
        """Score every text of every good request in one model call, then split per request."""
        good = [r for r in data if isinstance(r, ParsedRequest)]
        flat = [t for r in good for t in r.texts]
        fast_positive = None
        if any(r.fast_positive is not None for r in good):
            fast_positive = np.array([p for r in good for p in (r.fast_positive or [np.nan] * len(r.texts))])
        positive, signals = self.score_texts(flat, fast_positive) if flat else ([], {})
        out, start = [], 0
        for r in data:
            if isinstance(r, BadRequest):
                out.append(r)
                continue
            end = start + len(r.texts)
            out.append(ScoredRequest([float(p) for p in positive[start:end]], r.single,
                                     [word_spans(raw, self.explain_text(t)) for raw, t in zip(r.raw, r.texts)]
                                     if r.explain else None,
                                     {name: [round(float(v), 4) for v in values[start:end]]
                                      for name, values in signals.items()} or None))
            start = end
        return out

    def postprocess(self, data):
        return [self._result(item) for item in data]

    @staticmethod
    def _result(item):
        if isinstance(item, BadRequest):
            return {"error": str(item)}
        results = []
        for k, p_positive in enumerate(item.positive):
            label = int(p_positive >= 0.5)
            results.append({"label": LABELS[label], "confidence": p_positive if label else 1.0 - p_positive})
            if item.explanations is not None:
                results[-1]["explanation"] = item.explanations[k]
            for name, values in (item.signals or {}).items():
                results[-1][name] = values[k]
        return results[0] if item.single else results

    def handle(self, data, context):
        """TorchServe's handle (preprocess, inference, postprocess, the HandlerTime metric), then
        each request's content type and status: a bad request fails alone, not its batch."""
        outputs = super().handle(data, context)
        version = (self.manifest or {}).get("model", {}).get("modelVersion")
        for idx, output in enumerate(outputs):
            context.set_response_content_type(idx, JSON_CONTENT_TYPE)
            if version:
                context.set_response_header(idx, VERSION_HEADER, version)  # which version scored it
            if isinstance(output, dict) and "error" in output:
                context.set_response_status(400, "Bad Request", idx)
        return [json.dumps(o, ensure_ascii=False) for o in outputs]
