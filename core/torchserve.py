"""HTTP client for TorchServe's inference and management APIs, with token handling.

TorchServe writes fresh keys to key_file.json every time it starts; the client re-reads the file
when it changes and once more whenever TorchServe rejects a key, so a TorchServe restart never
needs a gateway restart. Keys also expire (token_expiration_min) without the file changing: a key
still rejected after a re-read is renewed through TorchServe's token API with the API key.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import orjson
import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError as Urllib3Timeout

from core.errors import BackendError, BackendTimeout, BackendUnavailable, ModelNotDeployed
from core.http11 import ConnectionPool, Reply
from core.settings import Settings
from handlers.artifacts import VERSION_HEADER

log = logging.getLogger(__name__)

POOL_MAXSIZE = 64  # keep-alive connections per API kept open: at least the concurrent requests of a gateway worker


@dataclass(frozen=True)
class Answer:
    results: list[dict]
    version: str | None


class TorchServeKeys:
    """The keys in TorchServe's key file, re-read whenever the file changes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp = None
        self._keys: dict[str, str] = {}

    def get(self, kind: str) -> str | None:
        """kind is 'inference', 'management' or 'API'; None when token authorization is off or not started."""
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._keys = self._read() if stamp else {}
                self._stamp = stamp
            return self._keys.get(kind)

    def forget(self) -> None:
        with self._lock:
            self._stamp = None

    def _read(self) -> dict[str, str]:
        try:
            raw = json.loads(self.path.read_text())
            keys = {kind: raw[kind]["key"] for kind in ("inference", "management", "API") if kind in raw}
            log.info("loaded TorchServe keys from %s", self.path)
            return keys
        except (OSError, ValueError, KeyError, TypeError) as exc:  # written while we read it
            log.warning("could not read TorchServe key file %s: %s", self.path, exc)
            return {}


# The inference API, called once or twice a /predict, goes through core/http11.py (~0.33 ms of CPU
# a call under gevent against urllib3's ~0.78); the management API through urllib3 (rather than
# requests: its sessions, hooks and cookies cost more again).
Response = urllib3.BaseHTTPResponse | Reply


def text_of(response: Response) -> str:
    return response.data.decode("utf-8", "replace")


def _rejected_key(response: Response) -> bool:
    return response.status in (400, 401) and "InvalidKeyException" in text_of(response)


def _json_body(payload) -> dict:
    """UTF-8 JSON (4 bytes a character at most), not ASCII escapes (up to 12): stays under
    TorchServe's max_request_size for any request the gateway accepts."""
    return {"body": orjson.dumps(payload), "headers": {"Content-Type": "application/json"}}


# What TorchServe says (HTTP 500) when a worker dies or is stopped while it holds the request:
# the worker restarts or the server is going down, so the client should retry, as on a 503.
_WORKER_LOST = ("Worker died", "Worker scaled down")


def _message(response: Response) -> str:
    try:
        return str(response.json().get("message", response.reason))
    except (ValueError, AttributeError):
        return response.reason or f"HTTP {response.status}"


class TorchServeClient:
    @classmethod
    def from_settings(cls, settings: Settings, timeout: float | None = None) -> "TorchServeClient":
        return cls(settings.inference_url, settings.management_url, settings.key_file,
                   timeout or settings.timeout_seconds)

    def __init__(self, inference_url: str, management_url: str, key_file: Path, timeout: float):
        self.inference_url = inference_url.rstrip("/")
        self.management_url = management_url.rstrip("/")
        self.keys = TorchServeKeys(key_file)
        self.timeout = timeout
        # Keep-alive connections, one pool per API (host:port), reused across requests; no retries
        # here: what a failure means is decided below.
        self.http = urllib3.PoolManager(num_pools=2, maxsize=POOL_MAXSIZE, retries=False)
        address = urlsplit(self.inference_url)
        self.inference = ConnectionPool(address.hostname, address.port or 80, POOL_MAXSIZE)

    def request(self, method: str, api: str, path: str, timeout: float | None = None, params: dict | None = None,
                body: bytes | None = None, headers: dict | None = None) -> Response:
        """One call to the 'inference' or 'management' API, retried once with re-read keys."""
        target = path + ("?" + urlencode(params) if params else "")
        for attempt in range(3):
            key = self.keys.get(api)
            sent = {**(headers or {}), **({"Authorization": f"Bearer {key}"} if key else {})}
            try:
                if api == "inference":
                    response = self.inference.request(method, target, body or b"", sent, timeout or self.timeout)
                else:
                    response = self.http.request(method, self.management_url + target, body=body, headers=sent,
                                                 timeout=timeout or self.timeout)
            except NewConnectionError as exc:  # a subclass of urllib3's TimeoutError, for history's sake
                raise BackendUnavailable("TorchServe is not reachable") from exc
            except (Urllib3Timeout, TimeoutError) as exc:
                raise BackendTimeout(f"TorchServe did not answer within {timeout or self.timeout:g}s") from exc
            except (HTTPError, OSError) as exc:
                raise BackendUnavailable("TorchServe is not reachable") from exc
            if not _rejected_key(response):
                return response
            if attempt == 0:
                log.warning("TorchServe rejected the %s key; re-reading %s", api, self.keys.path)
            else:
                log.warning("TorchServe still rejects the %s key (expired?); asking it for a new one", api)
                self._renew(api)
            self.keys.forget()
        raise BackendUnavailable("TorchServe rejected the gateway's key; is the key file readable?", status=503)

    def _renew(self, api: str) -> None:
        """Have TorchServe issue a new key of this kind; it rewrites the key file."""
        api_key = self.keys.get("API")
        if not api_key:
            return
        try:
            self.http.request("GET", f"{self.management_url}/token?" + urlencode({"type": api}),
                              headers={"Authorization": f"Bearer {api_key}"}, timeout=self.timeout)
        except (HTTPError, OSError) as exc:
            log.warning("key renewal failed: %s", exc)

    def predict(self, model: str, texts: list[str], version: str | None = None, request_id: str | None = None,
                timeout: float | None = None, explain: bool = False,
                fast_positive: list[float] | None = None) -> Answer:
        """One label/confidence dict per text, from the default version or the one named, and
        the version that scored them (the handler says; None for archives that predate it).
        `fast_positive` passes the fast model's P(positive) per text to a model that blends with it."""
        path = f"/predictions/{model}" + (f"/{version}" if version else "")
        what = f"model '{model}'" + (f" v{version}" if version else "")
        body = _json_body({"text": texts, **({"explain": True} if explain else {}),
                           **({"fast_positive": fast_positive} if fast_positive is not None else {})})
        if request_id:
            body["headers"]["X-Request-Id"] = request_id
        response = self.request("POST", "inference", path, timeout=timeout, **body)
        if response.status == 404:
            raise ModelNotDeployed(f"{what} is not deployed", status=404)
        lost = response.status == 500 and _message(response).startswith(_WORKER_LOST)
        if response.status in (503, 507) or lost:
            raise BackendUnavailable(f"{what} is not ready: {_message(response)}", status=response.status)
        if response.status >= 400:
            raise BackendError(f"{what} failed: {_message(response)}", status=response.status)
        results = response.json()
        if not isinstance(results, list) or len(results) != len(texts):
            raise BackendError(f"{what} answered an unexpected shape", status=502)
        return Answer(results, response.headers.get(VERSION_HEADER, version))

    def ping(self) -> bool:
        try:
            response = self.request("GET", "inference", "/ping", timeout=2)
        except BackendError:
            return False
        return response.status == 200

    def describe(self, model: str) -> dict | None:
        """The default version's description from the management API, or None if not registered."""
        response = self.request("GET", "management", f"/models/{model}", timeout=5)
        if response.status == 404:
            return None
        if response.status >= 400:
            raise BackendError(f"describe {model}: {_message(response)}", status=response.status)
        return response.json()[0]

    def versions(self, model: str) -> list[dict]:
        response = self.request("GET", "management", f"/models/{model}/all", timeout=10)
        if response.status == 404:
            return []
        if response.status >= 400:
            raise BackendError(f"list {model}: {_message(response)}", status=response.status)
        return response.json()

    def register(self, archive_file: str, model: str, timeout: float = 300) -> None:
        """Register a .mar from the model store under `model`, returning once it can serve. Its
        workers are the archive's model config's minWorkers (TorchServe 0.12 lets that win over
        initial_workers). The name is explicit so archives of an earlier layout keep working."""
        response = self.request("POST", "management", "/models", timeout=timeout,
                                params={"url": archive_file, "model_name": model, "synchronous": "true"})
        if response.status >= 400:
            raise BackendError(f"register {archive_file}: {_message(response)}", status=response.status)

    def set_default(self, model: str, version: str) -> None:
        response = self.request("PUT", "management", f"/models/{model}/{version}/set-default")
        if response.status >= 400:
            raise BackendError(f"set-default {model} v{version}: {_message(response)}", status=response.status)

    def unregister(self, model: str, version: str) -> None:
        response = self.request("DELETE", "management", f"/models/{model}/{version}", timeout=60)
        if response.status >= 400 and response.status != 404:
            raise BackendError(f"unregister {model} v{version}: {_message(response)}", status=response.status)
