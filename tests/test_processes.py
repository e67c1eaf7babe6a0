import time

from deploy import processes


def test_stop_returns_promptly_for_our_own_child(tmp_path):
    pid_file = tmp_path / "sleeper.pid"
    processes.spawn(["sleep", "60"], tmp_path / "sleeper.log", pid_file, tmp_path)
    assert processes.running_pid(pid_file) is not None
    started = time.monotonic()
    assert processes.stop(pid_file, timeout=10) is True
    assert time.monotonic() - started < 5  # the exited child is reaped, not waited on as a zombie
    assert processes.running_pid(pid_file) is None and not pid_file.exists()


def test_stop_without_a_running_process_is_false(tmp_path):
    assert processes.stop(tmp_path / "none.pid") is False


def test_free_ports_are_outside_the_ephemeral_range_and_never_repeat():
    """A port the kernel hands out for port 0 can be taken by an outgoing connection before the
    server it was meant for binds it (a cluster-test flake)."""
    from deploy.ports import _ephemeral_ports, free_port

    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    assert not any(port in _ephemeral_ports() for port in ports)
