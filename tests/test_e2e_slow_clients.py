"""Idle and half-sent connections must not take the gateway down (bench/slow_clients.py at a bounded size)."""
import socket
import time

import pytest

from bench.slow_clients import measure

pytestmark = pytest.mark.e2e


def test_normal_requests_are_served_beside_held_connections(fast_stack):
    result = measure(fast_stack.gateway_url, idle=300, half=200, seconds=8)
    print(result)
    held, after = result["while_held"], result["after_release"]
    assert held["requests"] > 20 and held["failed"] == 0, held
    assert held["p99_ms"] < 1000, held
    assert after["requests"] > 5 and after["failed"] == 0, after
    assert result["connections"]["idle"]["opened"] >= 300


def test_a_connection_that_sends_nothing_is_closed(fast_stack):
    host, port = fast_stack.settings.gateway_bind.split(":")
    keepalive = fast_stack.settings.gateway_keepalive_seconds
    for payload in (b"", b"POST /predict HTTP/1.1\r\nHost: x\r\n"):
        with socket.create_connection((host, int(port))) as conn:
            conn.sendall(payload)
            conn.settimeout(keepalive + 5)
            started = time.monotonic()
            assert conn.recv(1024) == b""  # closed by the server, nothing sent
            assert time.monotonic() - started <= keepalive + 2


def test_a_body_that_never_arrives_is_answered_408(fast_stack):
    host, port = fast_stack.settings.gateway_bind.split(":")
    deadline = fast_stack.settings.gateway_body_seconds
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"text\": ")
        conn.settimeout(deadline + 10)
        started = time.monotonic()
        answer = b""
        while chunk := conn.recv(4096):  # the whole answer, then the server closes the connection
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer
        assert deadline - 1 <= time.monotonic() - started <= deadline + 3
