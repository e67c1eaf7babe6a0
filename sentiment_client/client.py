"""SentimentClient: POST /predict with retries on the errors that may pass (503, 504, no connection),
and POST /feedback, which also waits out the rate limit (429, after Retry-After): feedback items are
stored once however often they are sent, so a retry never doubles one."""
from __future__ import annotations

import uuid
from typing import Optional, Union

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

# `mode` is for current servers; older ones ignore it and read `do_fast`, so both are sent.
# "auto" has no do_fast equivalent: an old server then uses its default model.
MODES = {"fast": {"do_fast": True}, "accurate": {"do_fast": False}, "auto": {}}
RETRY_STATUSES = frozenset({503, 504})
DEFAULT_BATCH = 32  # reviews per request the CLI sends unless told otherwise


class SentimentError(Exception):
    """A request that failed for good. `status` is None when no HTTP answer came at all."""

    def __init__(self, status: Optional[int], code: str, message: str, field: Optional[str] = None,
                 request_id: Optional[str] = None):
        self.status, self.code, self.message, self.field, self.request_id = status, code, message, field, request_id
        super().__init__((f"HTTP {status} " if status else "") + f"{code}: {message}"
                         + (f" (request {request_id})" if request_id else ""))


class _Backoff(Retry):
    """urllib3's Retry, but waiting backoff * 2**(n-1) seconds before the n-th retry: urllib3 does not
    wait before the first."""

    def get_backoff_time(self) -> float:
        return self.backoff_factor * 2 ** (len(self.history) - 1) if self.history else 0.0


class SentimentClient:
    def __init__(self, base_url: str, timeout: float = 30, retries: int = 3, backoff: float = 0.5,
                 pool_size: int = 10, token: Optional[str] = None):
        self.url = base_url.rstrip("/") + "/predict"
        self.feedback_url = base_url.rstrip("/") + "/feedback"
        self.token = token
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.session = requests.Session()
        # Each failure to connect or to get an answer, and each 503/504, is retried; the last 503/504
        # comes back as the answer. Retry-After is not read: with it urllib3 would also retry 413s.
        retry = _Backoff(total=retries, backoff_factor=backoff, status_forcelist=RETRY_STATUSES,
                         allowed_methods={"POST"}, raise_on_status=False, respect_retry_after_header=False)
        # One connection per concurrent caller, else urllib3 drops and reopens connections.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        waits = retry.new(status_forcelist=RETRY_STATUSES | {429}, respect_retry_after_header=True)
        self.session.mount(self.feedback_url, HTTPAdapter(pool_connections=1, pool_maxsize=pool_size,
                                                          max_retries=waits))

    def __enter__(self) -> "SentimentClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def predict(self, texts: Union[str, list[str]], mode: str = "fast") -> list[dict]:
        """One result dict (text, label, confidence, maybe model) per text, in input order."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {sorted(MODES)}, not {mode!r}")
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return []
        request_id = uuid.uuid4().hex
        try:
            response = self.session.post(self.url, json={"text": texts, "mode": mode, **MODES[mode]},
                                         timeout=self.timeout, headers={"X-Request-Id": request_id})
        except requests.RequestException as exc:
            raise _no_answer(exc, request_id) from exc
        return _results(response, len(texts), request_id)


    def feedback(self, items: list[dict], source: Optional[str] = None) -> dict:
        """POST /feedback with a list of items ({text, label} or {request_id, index, label}); the
        answer: counts and one outcome per item, in order."""
        request_id = uuid.uuid4().hex
        headers = {"X-Request-Id": request_id, **({"Authorization": f"Bearer {self.token}"} if self.token else {})}
        try:
            response = self.session.post(self.feedback_url, json={"items": items, **({"source": source} if source else {})},
                                         timeout=self.timeout, headers=headers)
        except requests.RequestException as exc:
            raise _no_answer(exc, request_id) from exc
        if response.status_code != 200:
            raise _error_of(response, response.headers.get("X-Request-Id", request_id))
        return response.json()


def _no_answer(exc: Exception, request_id: str) -> SentimentError:
    code = "timeout" if _timed_out(exc) else \
        "unreachable" if isinstance(exc, requests.ConnectionError) else "request_failed"
    return SentimentError(None, code, f"{type(exc).__name__}: {exc}", request_id=request_id)


def _timed_out(exc: Exception) -> bool:
    # Once the retries are spent, requests reports a read timeout as a ConnectionError around
    # urllib3's MaxRetryError, whose `reason` is the timeout.
    cause = exc.args[0] if exc.args else None
    return isinstance(exc, requests.Timeout) or isinstance(getattr(cause, "reason", None), ReadTimeoutError)


def _results(response: requests.Response, count: int, request_id: str) -> list[dict]:
    request_id = response.headers.get("X-Request-Id", request_id)
    if response.status_code != 200:
        raise _error_of(response, request_id)
    try:
        body = response.json()
        results = [body[str(i)] for i in range(count)]
    except (ValueError, KeyError, TypeError) as exc:
        raise SentimentError(200, "bad_response", f"unexpected answer: {response.text[:200]}",
                             request_id=request_id) from exc
    if not all(isinstance(r, dict) and "label" in r for r in results):
        raise SentimentError(200, "bad_response", f"an answer has no label: {response.text[:200]}",
                             request_id=request_id)
    return results


def _error_of(response: requests.Response, request_id: str) -> SentimentError:
    try:
        error = response.json()["error"]
        code, message, field = error["code"], error["message"], error.get("field")
    except (ValueError, KeyError, TypeError):  # not the gateway's JSON, e.g. a proxy's HTML page
        code, message, field = "http_error", response.text[:200] or response.reason, None
    return SentimentError(response.status_code, code, message, field, request_id)
