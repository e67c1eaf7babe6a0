"""The running service: TorchServe plus the gateway, from one Settings object.

TorchServe's static configuration is config.properties; the stack writes a copy with this
stack's addresses, model store and start-up models (from the registry) into its run dir.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import requests

from core.models import MODELS, ModelName
from core.paths import PROJECT_ROOT
from core.settings import Settings
from core.store import ModelStore
from core.torchserve import TorchServeClient
from deploy import processes
from deploy.ports import free_port

CONFIG_TEMPLATE = PROJECT_ROOT / "config.properties"
LOG_CONFIG = PROJECT_ROOT / "deploy" / "log4j2.xml"  # TorchServe's frontend logging
GUNICORN_CONFIG = PROJECT_ROOT / "gateway" / "gunicorn_conf.py"
BIN = Path(sys.executable).parent


def _properties_escape(value: str) -> str:
    """A Java .properties file reads a backslash as an escape: double it to keep it."""
    return value.replace("\\", "\\\\")


@dataclass
class Stack:
    settings: Settings = field(default_factory=Settings)

    @classmethod
    def on_free_ports(cls, run_dir: Path, model_store: Path, models=tuple(MODELS), **overrides) -> "Stack":
        """A stack beside any other (tests, benchmarks): free loopback ports, its own run dir and state."""
        settings = Settings(run_dir=run_dir, model_store=model_store, inference_port=free_port(),
                            management_port=free_port(), metrics_port=free_port(),
                            grpc_inference_port=free_port(), grpc_management_port=free_port(),
                            gateway_bind=f"127.0.0.1:{free_port()}", served_models=list(models), **overrides)
        return cls(settings)

    @property
    def models(self) -> list[ModelName]:
        """The models this stack serves (the served_models setting)."""
        return self.settings.served_models

    @property
    def run_dir(self) -> Path:
        return self.settings.run_dir

    @property
    def store_dir(self) -> Path:
        """The model store's directory (the model_store setting); `store` is the store itself."""
        return self.settings.model_store

    @property
    def store(self) -> ModelStore:
        return ModelStore(self.settings.model_store)

    @property
    def gateway_url(self) -> str:
        return self.settings.gateway_url

    @property
    def inference_url(self) -> str:
        return self.settings.inference_url

    @property
    def management_url(self) -> str:
        return self.settings.management_url

    @property
    def key_file(self) -> Path:
        return self.settings.key_file

    def _pid(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def startup_models(self) -> list[str]:
        """name=archive for each model's serving version in the registry, where its archive exists."""
        store, loads = self.store, []
        for model in self.models:
            version = store.serving(model)
            if version and (self.store_dir / version.file).is_file():
                loads.append(f"{model}={version.file}")
        return loads

    def torchserve_properties(self) -> str:
        """config.properties with this stack's addresses, absolute model store and start-up models."""
        s, store = self.settings, self.store_dir.resolve()
        overrides = {
            "inference_address": s.inference_url,
            "management_address": s.management_url,
            "metrics_address": s.metrics_url,
            "grpc_inference_address": s.torchserve_host,
            "grpc_management_address": s.torchserve_host,
            "grpc_inference_port": s.grpc_inference_port,
            "grpc_management_port": s.grpc_management_port,
            "model_store": str(store),
            "load_models": ",".join(self.startup_models()),
            # registration may name archives in this store only, never a remote URL
            "allowed_urls": _properties_escape(f"^file://{re.escape(str(store))}/[A-Za-z0-9_.-]+\\.mar$"),
        }
        lines = []
        for line in CONFIG_TEMPLATE.read_text().splitlines():
            key = line.split("=", 1)[0].strip()
            lines.append(f"{key}={overrides.pop(key)}" if key in overrides else line)
        lines += [f"{k}={v}" for k, v in overrides.items()]
        return "\n".join(lines) + "\n"

    # ---- the three processes of a stack (one pod's worth): each runs in the foreground, exec'd ----
    def exec_torchserve(self):
        """Write this stack's TorchServe config and become TorchServe, in the foreground (a crash
        ends the process, and with it a container)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.key_file.unlink(missing_ok=True)  # never let the gateway read a dead server's keys
        config = self.run_dir / "torchserve.properties"
        config.write_text(self.torchserve_properties())
        # TorchServe's launcher keeps one pid file in $TMPDIR and refuses a second server beside it:
        # a private TMPDIR lets `make deploy` and the tests' servers run side by side.
        tmp = self.run_dir / "tmp"
        tmp.mkdir(exist_ok=True)
        os.environ.update(LOG_LOCATION=str(self.run_dir / "logs"), METRICS_LOCATION=str(self.run_dir / "logs"),
                          TMPDIR=str(tmp))
        os.chdir(self.run_dir)
        os.execv(BIN / "torchserve", ["torchserve", "--start", "--foreground", "--ts-config", str(config),
                                      "--log-config", str(LOG_CONFIG), "--no-config-snapshots"])

    def exec_gateway(self):
        os.chdir(PROJECT_ROOT)
        os.execv(BIN / "gunicorn", ["gunicorn", "-c", str(GUNICORN_CONFIG), "gateway.app:create_app()"])

    def _spawn(self, role: str):
        """`python -m deploy <role>` as a child in its own session, with this stack's settings."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        env = {**self.settings.as_env(), "PYTHONPATH": str(PROJECT_ROOT)}
        return processes.spawn([sys.executable, "-m", "deploy", role], self.run_dir / f"{role}.log",
                               self._pid(role), PROJECT_ROOT, env=env)

    def start_torchserve(self):
        return self._spawn("torchserve")

    def start_gateway(self):
        return self._spawn("gateway")

    def start_reconciler(self):
        return self._spawn("reconcile")

    def health(self) -> dict | None:
        try:
            return requests.get(f"{self.gateway_url}/health", timeout=5).json()
        except (requests.RequestException, ValueError):
            return None

    def wait_ready(self, timeout: float = 180) -> dict:
        """Until /health says every model this stack loads can answer."""
        def ready():
            body = self.health() or {}
            models = body.get("models", {})
            return all(models.get(model, {}).get("ready") for model in self.models)

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

    def start(self, timeout: float = 180) -> dict:
        """TorchServe, then its reconciler and the gateway; returns /health once the models answer."""
        self.start_torchserve()
        self.wait_torchserve(timeout)
        self.start_reconciler()
        self.start_gateway()
        return self.wait_ready(timeout)

    def stop_torchserve(self) -> bool:
        return processes.stop(self._pid("torchserve"))

    def stop_gateway(self) -> bool:
        return processes.stop(self._pid("gateway"))

    def stop_reconciler(self) -> bool:
        return processes.stop(self._pid("reconcile"))

    def stop(self) -> None:
        self.stop_gateway()
        self.stop_reconciler()
        self.stop_torchserve()

    def client(self, timeout: float | None = None) -> TorchServeClient:
        return TorchServeClient.from_settings(self.settings, timeout)
