"""Keep-alive HTTP/1.1 to one loopback server, lean enough for the gateway's hot path.

The gateway calls TorchServe's inference API once or twice a request. Through urllib3 (which builds
on http.client) a call cost ~0.78 ms of CPU under gevent, most of a gateway worker's time on a
single review; this costs ~0.33 ms (`python -m bench.side_by_side` shows the effect per request):
each request goes out in one `sendall`, and the answer is read by httptools, the C HTTP parser
under uvicorn. Used for the inference API only; management calls stay on urllib3.

A reused connection that the server has closed in the meantime (its keep-alive timeout) fails
before any answer arrives; the request is then sent once more on a new connection. Predictions are
pure functions of the request, so a repeat is harmless.
"""
from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

import httptools
import orjson


class Headers(dict):
    """Header names in lower case, looked up in any case."""

    def get(self, name: str, default=None):
        return super().get(name.lower(), default)

    def __getitem__(self, name: str):
        return super().__getitem__(name.lower())

    def __contains__(self, name) -> bool:
        return super().__contains__(name.lower())


@dataclass
class Reply:
    """The parts of urllib3's response the TorchServe client reads."""

    status: int
    headers: Headers
    data: bytes
    reason: str = ""

    def json(self):
        return orjson.loads(self.data)


@dataclass
class _Reading:
    headers: Headers = field(default_factory=Headers)
    body: list = field(default_factory=list)
    reason: str = ""
    done: bool = False
    keep_alive: bool = False
    parser: object = None

    def on_status(self, status: bytes) -> None:
        self.reason = status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.done = True
        self.keep_alive = self.parser.should_keep_alive()  # only known here: False once the parser is past it


class _Connection:
    def __init__(self, host: str, port: int, timeout: float):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.used = False

    def exchange(self, request: bytes, timeout: float) -> tuple[Reply, bool]:
        """(the reply, whether the connection may be reused)."""
        self.sock.settimeout(timeout)
        self.sock.sendall(request)
        reading = _Reading()
        parser = reading.parser = httptools.HttpResponseParser(reading)
        received = False
        while not reading.done:
            data = self.sock.recv(65536)
            if not data:
                closed = ConnectionResetError("the server closed the connection" +
                                              (" mid-answer" if received else " before answering"))
                closed.mid_answer = received
                raise closed
            received = True
            parser.feed_data(data)
        return (Reply(parser.get_status_code(), reading.headers, b"".join(reading.body), reading.reason),
                reading.keep_alive)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class ConnectionPool:
    """Up to `maxsize` idle keep-alive connections to host:port, shared by a process's threads."""

    def __init__(self, host: str, port: int, maxsize: int):
        self.host, self.port, self.maxsize = host, port, maxsize
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()

    def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None,
                timeout: float = 10.0) -> Reply:
        """Raises OSError (ConnectionRefusedError, TimeoutError, ...) when there is no answer."""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        connection = self._take()
        while True:
            reused = connection is not None
            connection = connection or _Connection(self.host, self.port, timeout)
            try:
                reply, keep = connection.exchange(request, timeout)
            except ConnectionError as exc:  # reset, refused, broken pipe: not a timeout
                connection.close()
                if reused and not getattr(exc, "mid_answer", False):
                    connection = None  # the server had closed it while idle: once more, on a new one
                    continue
                raise
            except OSError:
                connection.close()
                raise
            if keep:
                self._give_back(connection)
            else:
                connection.close()
            return reply

    def _take(self) -> _Connection | None:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def _give_back(self, connection: _Connection) -> None:
        with self._lock:
            if len(self._idle) < self.maxsize:
                self._idle.append(connection)
                return
        connection.close()

    def idle(self) -> int:
        with self._lock:
            return len(self._idle)
