"""A throwaway PostgreSQL server for the tests and benchmarks (tests/test_feedback_store.py,
bench/feedback_intake.py): a fresh cluster in a temporary directory, on a free loopback port.
Needs Debian's postgresql package (`deploy/test-deps` installs it). Its initdb and pg_ctl refuse to
run as root, so as root they run as the `postgres` user (the package creates it) through runuser."""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

from deploy.ports import free_port

USER = "postgres"


def bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: Debian's versioned directory, else PATH; None without them."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    on_path = shutil.which("pg_ctl")
    return Path(found[-1]).parent if found else Path(on_path).parent if on_path else None


class PostgresServer:
    def __init__(self):
        self.bin_dir = bin_dir()
        if self.bin_dir is None:
            raise RuntimeError("PostgreSQL's server programs are missing: apt-get install postgresql")
        self.port = free_port()
        self.home = Path(tempfile.mkdtemp(prefix="sentiment-pg-"))
        self.data = self.home / "data"
        if os.geteuid() == 0:
            shutil.chown(self.home, USER, USER)

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/sentiment"

    def create_database(self, name: str) -> str:
        """Another empty database on this server; its URL."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name)
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        subprocess.run(["runuser", "-u", USER, "--", *command] if os.geteuid() == 0 else command,
                       check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        if not self.data.exists():
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "--no-sync", "-E", "UTF8")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.home / "server.log"), "-w", "-t", "60", "start",
                  "-o", f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The server down for the block (a database outage, as the service sees it), then up again."""
        self.stop()
        try:
            yield
        finally:
            self.start()


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A fresh cluster with an empty database `sentiment`, removed after."""
    server = PostgresServer()
    try:
        server.start()
        server.create_database("sentiment")
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            server.stop("immediate")
        shutil.rmtree(server.home, ignore_errors=True)
