"""Loopback ports for servers started beside others (tests, benchmarks, `Stack.on_free_ports`)."""
from __future__ import annotations

import random
import socket
from pathlib import Path

_HANDED_OUT: set[int] = set()


def _ephemeral_ports() -> range:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return range(low, high + 1)
    except (OSError, ValueError):
        return range(32768, 61000)


def free_port() -> int:
    """A loopback port nobody listens on, outside the kernel's ephemeral range: a port the kernel
    hands out for port 0 can be taken by any outgoing connection before our server binds it."""
    ephemeral = _ephemeral_ports()
    for _ in range(200):
        port = random.randrange(20000, 32000)
        if port in ephemeral or port in _HANDED_OUT:  # not yet bound by whoever asked for it
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no free loopback port in 20000-31999")
