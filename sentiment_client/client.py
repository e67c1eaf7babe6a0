"""SentimentClient: POST /predict with retries on the errors that may pass (503, 504, no connection)."""
from __future__ import annotations

import time
import uuid
from typing import Optional, Union

import requests
from requests.adapters import HTTPAdapter

# `mode` is for current servers; older ones ignore it and read `do_fast`, so both are sent.
# "auto" has no do_fast equivalent: an old server then uses its default model.
MODES = {"fast": {"do_fast": True}, "accurate": {"do_fast": False}, "auto": {}}
RETRY_STATUSES = frozenset({503, 504})
DEFAULT_BATCH = 32  # reviews per request the CLI sends unless told otherwise
RETRY_EXCEPTIONS = (requests.ConnectionError, requests.Timeout)


class SentimentError(Exception):
    """A request that failed for good. `status` is None when no HTTP answer came at all."""

    def __init__(self, status: Optional[int], code: str, message: str, field: Optional[str] = None,
                 request_id: Optional[str] = None):
        self.status, self.code, self.message, self.field, self.request_id = status, code, message, field, request_id
        super().__init__((f"HTTP {status} " if status else "") + f"{code}: {message}"
                         + (f" (request {request_id})" if request_id else ""))


class SentimentClient:
    def __init__(self, base_url: str, timeout: float = 30, retries: int = 3, backoff: float = 0.5,
                 pool_size: int = 10):
        self.url = base_url.rstrip("/") + "/predict"
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.session = requests.Session()
        # One connection per concurrent caller, else urllib3 drops and reopens connections.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

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
        response = self._post_with_retries({"text": texts, "mode": mode, **MODES[mode]}, request_id)
        return _results(response, len(texts), request_id)

    def _post_with_retries(self, body: dict, request_id: str) -> requests.Response:
        """The first answer that is not 503/504, else the last answer or failure to connect."""
        outcome: Union[requests.Response, Exception, None] = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                outcome = self.session.post(self.url, json=body, timeout=self.timeout,
                                            headers={"X-Request-Id": request_id})
            except RETRY_EXCEPTIONS as exc:
                outcome = exc
            except requests.RequestException as exc:  # e.g. too many redirects: no point retrying
                raise _no_answer(exc, request_id) from exc
            if isinstance(outcome, requests.Response) and outcome.status_code not in RETRY_STATUSES:
                return outcome
        if isinstance(outcome, Exception):
            raise _no_answer(outcome, request_id) from outcome
        return outcome


def _no_answer(exc: Exception, request_id: str) -> SentimentError:
    code = "timeout" if isinstance(exc, requests.Timeout) else \
        "unreachable" if isinstance(exc, requests.ConnectionError) else "request_failed"
    return SentimentError(None, code, f"{type(exc).__name__}: {exc}", request_id=request_id)


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
