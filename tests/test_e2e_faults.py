"""Faults on real processes under traffic: a killed model worker, a hung one, TorchServe down and up.

Expected every time: while the backend is broken, clients get a clear 503/504 JSON error (never a
500, a hang or a dropped connection), /health says what is wrong, and service comes back on its
own, with the same gateway process and the promoted model version.
"""
import json
import os
import signal
import time

import pytest
import requests

from core.store import ModelStore
from deploy import processes
from tests.conftest import make_stack, running
from tests.helpers import Traffic, predict
from train.archive import build_archive, publish

pytestmark = pytest.mark.e2e
GATEWAY_TIMEOUT_S = 3
RECOVERY_S = 120
ALLOWED_WHILE_BROKEN = {"ok", "backend_unavailable", "backend_timeout"}


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory, model_store, fast_model_dir):
    """Versions 1 and 2 of the fast model with 2 promoted, served from the registry like `make deploy`."""
    store = tmp_path_factory.mktemp("fault_store")
    models = ModelStore(store)
    publish("fast", fast_model_dir, models)
    v2 = build_archive("fast", fast_model_dir, models.archive_path("fast", "2"), version="2")
    models.add_version("fast", "2", v2.name, {})
    models.promote("fast", "2")
    stack = make_stack(tmp_path_factory.mktemp("run_faults"), store, timeout_seconds=GATEWAY_TIMEOUT_S)
    with running(stack):
        yield stack


def health(stack) -> tuple[int, dict]:
    response = requests.get(f"{stack.gateway_url}/health", timeout=10)
    return response.status_code, response.json()


def worker_pids(stack) -> list[int]:
    """The fast model's ready worker processes (as many as model_config/fast.yaml asks for)."""
    key = json.loads(stack.key_file.read_text())["management"]["key"]
    described = requests.get(f"{stack.management_url}/models/fast", timeout=10,
                             headers={"Authorization": f"Bearer {key}"}).json()[0]
    return [int(w["pid"]) for w in described["workers"] if w["status"] == "READY"]


def wait_until(condition, timeout: float = RECOVERY_S, what: str = "recovery"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {timeout}s")


def assert_recovered(stack, traffic: Traffic, fault_began: float) -> None:
    """Traffic sent after the fault began is answered again; nothing but 200s and clear 503/504
    errors was ever seen."""
    wait_until(lambda: traffic.answered_since(fault_began))
    time.sleep(1)
    traffic.stop()
    print(f"traffic: {traffic.sent} requests: {traffic.summary()}")
    assert set(traffic.summary()) <= ALLOWED_WHILE_BROKEN, traffic.failures[:5]
    assert traffic.outcomes[-1][1] == "ok"
    status, body = health(stack)
    assert status == 200 and body["models"]["fast"]["version"] == "2"


def test_killed_workers_are_replaced(fault_stack):
    traffic = Traffic(fault_stack.gateway_url)
    traffic.start()
    time.sleep(1)
    fault_began = traffic.elapsed()
    for pid in worker_pids(fault_stack):
        os.kill(pid, signal.SIGKILL)
    # TorchServe notices, restarts the worker and reloads the model; /health shows the gap.
    status, body = wait_until(lambda: (h := health(fault_stack))[0] == 503 and h, 30, "unready /health")
    assert body["torchserve"] == "ok" and body["models"]["fast"]["ready"] is False
    assert_recovered(fault_stack, traffic, fault_began)
    # Clients see the gap as errors, or (where TorchServe restarts the worker within the gateway's
    # timeout, on an idle machine) as requests held until it is back: never as wrong answers.
    held = max(later[0] - earlier[0] for earlier, later in zip(traffic.outcomes, traffic.outcomes[1:]))
    assert traffic.failures or held > 1.0, f"killing every worker was invisible to clients (longest wait {held:.2f}s)"
    # ... and to operators: TorchServe's log says the worker died and came back (deploy/log4j2.xml)
    frontend = (fault_stack.run_dir / "logs" / "ts_log.log").read_text()
    assert "Auto recovery start timestamp" in frontend and "Auto recovery succeeded" in frontend
    assert "Backend response time" not in frontend


def test_hung_worker_answers_504_and_recovers(fault_stack):
    """Workers that stop responding (SIGSTOP) are a backend slower than the gateway's timeout."""
    pids = wait_until(lambda: worker_pids(fault_stack), what="a ready worker")
    traffic = Traffic(fault_stack.gateway_url)
    traffic.start()
    time.sleep(1)
    fault_began = traffic.elapsed()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        response = predict(fault_stack, {"text": "좋다"}, timeout=30)
        waited = time.monotonic() - started
        assert response.status_code == 504 and response.json()["error"]["code"] == "backend_timeout"
        assert waited < GATEWAY_TIMEOUT_S + 2  # the gateway gave up on time; it did not hang with the worker
        wait_until(lambda: "backend_timeout" in traffic.summary(), 3 * GATEWAY_TIMEOUT_S, "timeout seen by traffic")
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    assert_recovered(fault_stack, traffic, fault_began)


def test_torchserve_down_then_up_serves_the_promoted_version(fault_stack):
    traffic = Traffic(fault_stack.gateway_url)
    traffic.start()
    time.sleep(1)
    fault_began = traffic.elapsed()
    fault_stack.stop_torchserve()
    status, body = health(fault_stack)
    assert status == 503 and body["status"] == "down" and body["torchserve"] == "unreachable"
    response = predict(fault_stack, {"text": "좋다"}, timeout=30)
    assert response.status_code == 503 and response.json()["error"]["code"] == "backend_unavailable"

    fault_stack.start_torchserve()  # from the registry, as `make deploy` does  # new keys: the gateway re-reads them
    fault_stack.wait_torchserve()
    fault_stack.wait_ready(180)
    assert_recovered(fault_stack, traffic, fault_began)
    assert "backend_unavailable" in traffic.summary()


def readyz(stack) -> int:
    return requests.get(f"{stack.gateway_url}/readyz", timeout=30).status_code


def test_readiness_turns_503_when_workers_hang_and_200_when_they_resume(fault_stack):
    """/health reports what TorchServe believes (READY); /readyz asks the model itself."""
    wait_until(lambda: readyz(fault_stack) == 200, 30, "readiness 200")
    pids = worker_pids(fault_stack)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        stopped = time.monotonic()
        wait_until(lambda: readyz(fault_stack) == 503, 10, "readiness 503")
        flipped_down = time.monotonic() - stopped
        assert health(fault_stack)[1]["models"]["fast"]["ready"] is True  # TorchServe cannot tell
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    resumed = time.monotonic()
    wait_until(lambda: readyz(fault_stack) == 200, 30, "readiness 200")
    print(f"readiness: 503 {flipped_down:.1f}s after SIGSTOP, 200 {time.monotonic() - resumed:.1f}s after SIGCONT")


def test_sigterm_drains_the_gateway_finishing_requests_in_flight(fault_stack):
    """What a pod's termination does: the gateway stops accepting, finishes what it holds, exits."""
    import socket

    gateway = processes.running_pid(fault_stack.run_dir / "gateway.pid")
    host, port = fault_stack.settings.gateway_bind.split(":")
    body = json.dumps({"text": "좋다"}).encode()
    in_flight = socket.create_connection((host, int(port)))
    in_flight.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body[:5])
    time.sleep(0.5)
    os.kill(gateway, signal.SIGTERM)

    def refused() -> bool:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return False
        except OSError:
            return True

    wait_until(refused, 8, "new connections refused after SIGTERM")
    in_flight.sendall(body[5:])  # the request that was in flight completes
    in_flight.settimeout(15)
    answer = in_flight.recv(65536)
    in_flight.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    wait_until(lambda: exited(gateway), 15, "gateway exit")
    fault_stack.start_gateway()  # for whatever runs after
    fault_stack.wait_ready(120)


def exited(pid: int) -> bool:
    """Our child `pid` has exited (reaped here, so its zombie does not look alive)."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return True
