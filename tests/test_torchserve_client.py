"""How the gateway's TorchServe client reads TorchServe's answers, against a real local HTTP server
that answers as TorchServe does when a worker dies or is scaled down mid-request."""
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core.errors import BackendError, BackendTimeout, BackendUnavailable
from core.torchserve import TorchServeClient


def serving(status: int, message: str):
    class Answer(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.dumps({"code": status, "type": "InternalServerException", "message": message}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("status, message, error", [
    (500, "Worker died.", BackendUnavailable),  # TorchServe stopping, or the worker restarting: retry
    (500, "Worker scaled down.", BackendUnavailable),
    (503, "No worker available", BackendUnavailable),
    (500, "Prediction failed", BackendError),  # the model itself failed: not transient
])
def test_lost_workers_are_unavailable_not_errors(tmp_path, status, message, error):
    server = serving(status, message)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        client = TorchServeClient(url, url, tmp_path / "key_file.json", timeout=5)
        with pytest.raises(BackendError) as raised:
            client.predict("fast", ["좋다"])
        assert type(raised.value) is error and message in str(raised.value)
    finally:
        server.shutdown()


def test_nothing_listening_is_unavailable_at_once(tmp_path):
    with socket.socket() as probe:  # a port that was free a moment ago, now closed
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    client = TorchServeClient(url, url, tmp_path / "key_file.json", timeout=5)
    started = time.monotonic()
    with pytest.raises(BackendError) as raised:
        client.predict("fast", ["좋다"])
    assert type(raised.value) is BackendUnavailable and time.monotonic() - started < 2


def test_a_server_that_never_answers_is_a_timeout(tmp_path):
    with socket.socket() as silent:  # accepts (the kernel's backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        client = TorchServeClient(url, url, tmp_path / "key_file.json", timeout=0.5)
        with pytest.raises(BackendError) as raised:
            client.predict("fast", ["좋다"])
    assert type(raised.value) is BackendTimeout


def keep_alive_server(answers_per_connection: int, close_after_s: float | None = None):
    """An HTTP/1.1 server that answers `answers_per_connection` requests on a connection, then
    closes it without saying so (as TorchServe does when its keep-alive times out); a count of
    the connections it accepted."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def one(conn):
        with conn:
            for _ in range(answers_per_connection):
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                while len(body) < length:
                    body += conn.recv(65536)
                answer = json.dumps([{"label": "positive", "confidence": 0.9}] * len(json.loads(body)["text"]))
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-model-version: 7\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer.encode()))
            if close_after_s:
                time.sleep(close_after_s)

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)
            threading.Thread(target=one, args=(conn,), daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    return listener, accepted


def test_connections_are_kept_alive_and_one_closed_by_the_server_is_replaced(tmp_path):
    listener, accepted = keep_alive_server(answers_per_connection=3)
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        client = TorchServeClient(url, url, tmp_path / "key_file.json", timeout=5)
        answers = [client.predict("fast", ["좋다", "싫다"]) for _ in range(7)]
        assert all(a.version == "7" and len(a.results) == 2 for a in answers)  # the header read in any case
        # 3 answers a connection: the 4th and 7th requests found theirs closed and went again on a new one.
        assert len(accepted) == 3
        assert client.inference.idle() == 1
    finally:
        listener.close()
