"""The running service: TorchServe plus the gateway, configured from config.properties."""
from __future__ import annotations

import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import requests

from deploy import processes
from train import settings

CONFIG_TEMPLATE = settings.PROJECT_ROOT / "config.properties"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    run_dir: Path = settings.PROJECT_ROOT / "run"
    model_store: Path = settings.MODEL_STORE
    inference_port: int = 8080
    management_port: int = 8081
    metrics_port: int = 8082
    grpc_inference_port: int = 7070
    grpc_management_port: int = 7071
    gateway_bind: str = "127.0.0.1:5000"
    models: list[str] = field(default_factory=list)  # .mar files in the store to load at start
    gateway_env: dict = field(default_factory=dict)  # extra SENTIMENT_* settings

    @classmethod
    def on_free_ports(cls, run_dir: Path, model_store: Path = settings.MODEL_STORE, models: list[str] = (),
                      **gateway_env) -> "Stack":
        """A stack beside any other (tests, benchmarks): free loopback ports, its own run dir and state."""
        return cls(run_dir=run_dir, model_store=model_store, inference_port=free_port(),
                   management_port=free_port(), metrics_port=free_port(), grpc_inference_port=free_port(),
                   grpc_management_port=free_port(), gateway_bind=f"127.0.0.1:{free_port()}",
                   models=list(models), gateway_env=gateway_env)

    @property
    def gateway_url(self) -> str:
        return f"http://{self.gateway_bind}"

    @property
    def inference_url(self) -> str:
        return f"http://127.0.0.1:{self.inference_port}"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"

    @property
    def key_file(self) -> Path:
        return self.run_dir / "key_file.json"

    def _pid(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def torchserve_properties(self) -> str:
        """config.properties with this stack's ports, absolute model store and start-up models."""
        overrides = {
            "inference_address": self.inference_url,
            "management_address": self.management_url,
            "metrics_address": f"http://127.0.0.1:{self.metrics_port}",
            "grpc_inference_port": self.grpc_inference_port,
            "grpc_management_port": self.grpc_management_port,
            "model_store": str(self.model_store.resolve()),
            "load_models": ",".join(self.models),
        }
        lines = []
        for line in CONFIG_TEMPLATE.read_text().splitlines():
            key = line.split("=", 1)[0].strip()
            lines.append(f"{key}={overrides.pop(key)}" if key in overrides else line)
        lines += [f"{k}={v}" for k, v in overrides.items()]
        return "\n".join(lines) + "\n"

    def start_torchserve(self):
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.key_file.unlink(missing_ok=True)  # never let the gateway read a dead server's keys
        config = self.run_dir / "torchserve.properties"
        config.write_text(self.torchserve_properties())
        command = [str(BIN / "torchserve"), "--start", "--foreground", "--ts-config", str(config),
                   "--no-config-snapshots"]
        # TorchServe's launcher keeps one pid file in $TMPDIR and refuses a second server beside it:
        # a private TMPDIR lets `make deploy` and the tests' servers run side by side.
        tmp = self.run_dir / "tmp"
        tmp.mkdir(exist_ok=True)
        return processes.spawn(command, self.run_dir / "torchserve.log", self._pid("torchserve"), self.run_dir,
                               env={"LOG_LOCATION": str(self.run_dir / "logs"),
                                    "METRICS_LOCATION": str(self.run_dir / "logs"), "TMPDIR": str(tmp)})

    def start_gateway(self):
        self.run_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "GATEWAY_BIND": self.gateway_bind,
            "SENTIMENT_INFERENCE_URL": self.inference_url,
            "SENTIMENT_MANAGEMENT_URL": self.management_url,
            "SENTIMENT_KEY_FILE": str(self.key_file),
            # the stack's own state, so test and benchmark stacks never touch the deployed one's
            "SENTIMENT_JOB_DIR": str(self.run_dir / "jobs"),
            "SENTIMENT_ADMIN_TOKEN_FILE": str(self.run_dir / "admin_token"),
            "SENTIMENT_MODEL_STORE": str(self.model_store.resolve()),
            "PYTHONPATH": str(settings.PROJECT_ROOT),
            **self.gateway_env,
        }
        command = [str(BIN / "gunicorn"), "-c", str(settings.PROJECT_ROOT / "gateway" / "gunicorn_conf.py"),
                   "gateway.app:create_app()"]
        return processes.spawn(command, self.run_dir / "gateway.log", self._pid("gateway"),
                               settings.PROJECT_ROOT, env=env)

    def health(self) -> dict | None:
        try:
            return requests.get(f"{self.gateway_url}/health", timeout=5).json()
        except (requests.RequestException, ValueError):
            return None

    def wait_ready(self, timeout: float = 180, accurate: bool = False) -> dict:
        """Until /health says the fast model (and the accurate one, if asked) can answer."""
        def ready():
            body = self.health() or {}
            models = body.get("models", {})
            return models.get("fast", {}).get("ready") and (not accurate or models.get("accurate", {}).get("ready"))

        def alive():
            return all(processes.running_pid(self._pid(n)) for n in ("torchserve", "gateway"))

        processes.wait_for(ready, timeout, "service", alive)
        return self.health()

    def wait_torchserve(self, timeout: float = 120) -> None:
        def up():
            try:
                requests.get(f"{self.inference_url}/ping", timeout=2)
                return self.key_file.exists()
            except requests.RequestException:
                return False
        processes.wait_for(up, timeout, "TorchServe", lambda: processes.running_pid(self._pid("torchserve")) is not None)

    def start(self, timeout: float = 180, accurate: bool = False) -> dict:
        """TorchServe, then the gateway; returns /health once the models can answer."""
        self.start_torchserve()
        self.wait_torchserve(timeout)
        self.start_gateway()
        return self.wait_ready(timeout, accurate)

    def stop_torchserve(self) -> bool:
        return processes.stop(self._pid("torchserve"))

    def stop_gateway(self) -> bool:
        return processes.stop(self._pid("gateway"))

    def stop(self) -> None:
        self.stop_gateway()
        self.stop_torchserve()
