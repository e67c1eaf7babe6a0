"""What is exposed, to whom, and what leaks (docs/security.md)."""
import ipaddress
import json
import stat

import psutil
import pytest
import requests

from deploy import processes
from core.settings import Settings
from core.paths import PROJECT_ROOT
from tests.helpers import predict

pytestmark = pytest.mark.e2e
LIMITS = Settings()


def listening_addresses(pid: int) -> list[tuple[str, int]]:
    """TCP listeners of a process and all its descendants."""
    root = psutil.Process(pid)
    found = []
    for process in [root, *root.children(recursive=True)]:
        found += [(c.laddr.ip, c.laddr.port) for c in process.net_connections("tcp") if c.status == psutil.CONN_LISTEN]
    return found


def test_every_listener_is_on_loopback(fast_stack):
    torchserve = listening_addresses(processes.running_pid(fast_stack.run_dir / "torchserve.pid"))
    gateway = listening_addresses(processes.running_pid(fast_stack.run_dir / "gateway.pid"))
    ports = {port for _, port in torchserve}
    assert {fast_stack.settings.inference_port, fast_stack.settings.management_port, fast_stack.settings.metrics_port,
            fast_stack.settings.grpc_inference_port, fast_stack.settings.grpc_management_port} <= ports
    assert gateway and torchserve
    assert all(is_loopback(ip) for ip, _ in torchserve + gateway), torchserve + gateway


def is_loopback(ip: str) -> bool:
    """127.0.0.1, or its IPv4-mapped IPv6 form that the JVM reports (not :: or 0.0.0.0)."""
    address = ipaddress.ip_address(ip)
    return (getattr(address, "ipv4_mapped", None) or address).is_loopback


@pytest.mark.parametrize("api, method, path", [
    ("inference", "POST", "/predictions/fast"),
    ("inference", "GET", "/ping"),
    ("management", "GET", "/models"),
    ("management", "POST", "/models?url=fast.mar&model_name=intruder"),
    ("management", "DELETE", "/models/fast/1"),
])
@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_torchserve_apis_need_their_token(fast_stack, api, method, path, token):
    base = fast_stack.inference_url if api == "inference" else fast_stack.management_url
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.request(method, base + path, headers=headers, json={"text": "좋다"}, timeout=10)
    assert response.status_code in (400, 401) and "token" in response.text.lower(), response.text


def test_key_and_token_files_are_private(fast_stack):
    for path in (fast_stack.key_file, fast_stack.run_dir / "admin_token"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.parametrize("path", ["/train", "/models/fast/rollback"])
@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic abc", "Bearer "])
def test_changing_endpoints_need_the_admin_token(fast_stack, path, header):
    headers = {"Authorization": header} if header else {}
    response = requests.post(f"{fast_stack.gateway_url}{path}", headers=headers, json={}, timeout=10)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert not list((fast_stack.run_dir / "jobs").glob("*.json"))  # no job was started


def test_largest_request_within_limits_is_served(fast_stack):
    """max_texts x max_text_chars, every character an astral emoji sent as a JSON escape pair (12 bytes)."""
    body = json.dumps({"text": ["😀" * LIMITS.max_text_chars] * LIMITS.max_texts})  # ensure_ascii: \ud83d\ude00
    assert len(body) > 1_500_000
    response = predict(fast_stack, data=body, headers={"Content-Type": "application/json"}, timeout=120)
    assert response.status_code == 200, response.text[:300]
    assert len(response.json()) == LIMITS.max_texts


@pytest.mark.parametrize("body, status", [
    ({"text": ["좋다"] * (LIMITS.max_texts + 1)}, 400),
    ({"text": "가" * (LIMITS.max_text_chars + 1)}, 400),
    ({"text": ["좋다", "가" * (LIMITS.max_text_chars + 1)]}, 400),
    ("x" * (LIMITS.max_body_bytes + 1), 413),
])
def test_limits_hold(fast_stack, body, status):
    data = body if isinstance(body, str) else json.dumps(body)
    response = predict(fast_stack, data=data, headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == status and "error" in response.json()


HOSTILE = [
    ("POST", "/predict", b"{\"text\": "),
    ("POST", "/predict", b"\xff\xfe not utf-8"),
    ("POST", "/predict", b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["),
    ("POST", "/predict", json.dumps({"text": {"__class__": "x"}, "do_fast": True}).encode()),
    ("POST", "/predict", ("{\"text\": " + "[" * 100_000 + "]" * 100_000 + "}").encode()),
    ("GET", "/train/..%2F..%2Fetc%2Fpasswd", None),
    ("GET", "/train/%00", None),
    ("GET", "/../../etc/passwd", None),
    ("POST", "/models/..%2Farchives/rollback", None),
    ("PUT", "/predict", b"{}"),
    ("GET", "/predict?text=x", None),
]


@pytest.mark.parametrize("method, path, body", HOSTILE)
def test_hostile_requests_get_json_errors_without_internals(fast_stack, method, path, body):
    response = requests.request(method, f"{fast_stack.gateway_url}{path}", data=body,
                                headers={"Content-Type": "application/json"}, timeout=30)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert error["code"] and error["message"]
    for leak in ("Traceback", str(PROJECT_ROOT), "site-packages", "/tmp/"):
        assert leak not in response.text
