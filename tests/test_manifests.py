"""Deployment assets, checked offline: the Kubernetes manifests (deploy/k8s), the images'
Dockerfiles (deploy/docker), compose.yaml and the store seeding script.

- `kubectl kustomize` renders each overlay; every object is validated against Kubernetes' OpenAPI
  schemas with kubernetes-validate (strict: unknown fields are errors), for the oldest Kubernetes
  these manifests claim (1.30) and the newest the package knows;
- hadolint lints both Dockerfiles (.hadolint.yaml), yamllint every YAML file (.yamllint.yaml);
- compose.yaml is validated against the Compose Specification's JSON schema
  (deploy/docker/compose-spec.json, from github.com/compose-spec/compose-spec, Apache-2.0,
  schema/compose-spec.json at commit 170098ba07d9f53c383a41bfd4c5166b0a4529a6);
- then what the deployment relies on: the three containers and their commands, probes, the
  rolling update, resources, the shared volumes, TorchServe's ports never exposed, and the same
  settings in compose, Kubernetes and the images.
A missing tool skips its tests, saying how to install it (`make test` installs them first, with
deploy/test-deps); under CI=true it fails them (tests.helpers.require_tool).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from core.paths import PROJECT_ROOT
from core.settings import ENV_PREFIX, Settings
from tests.helpers import assert_ok, require_tool

K8S = PROJECT_ROOT / "deploy" / "k8s"
OVERLAYS = ("cpu", "gpu")
DOCKER = PROJECT_ROOT / "deploy" / "docker"
DOCKERFILES = (DOCKER / "Dockerfile", DOCKER / "Dockerfile.gpu")
COMPOSE = PROJECT_ROOT / "compose.yaml"
COMPOSE_GPU = DOCKER / "compose.gpu.yaml"
COMPOSE_SCHEMA = DOCKER / "compose-spec.json"
SEED_SCRIPT = DOCKER / "seed-store.sh"

# The oldest Kubernetes these manifests are for (autoscaling/v2 ContainerResource metrics are GA
# from 1.30); the newest is whatever kubernetes-validate knows.
OLDEST_KUBERNETES = "1.30.0"

CONTAINERS = {"torchserve", "gateway", "reconciler"}
COMMANDS = {name: ["python", "-m", "deploy", verb]
            for name, verb in (("torchserve", "torchserve"), ("gateway", "gateway"), ("reconciler", "reconcile"))}
GATEWAY_PORT = 5000
# Every port TorchServe listens on, from the settings' defaults: none may leave the pod.
TORCHSERVE_PORTS = {Settings.model_fields[name].default for name in
                    ("inference_port", "management_port", "metrics_port", "grpc_inference_port",
                     "grpc_management_port")}
STORE_MOUNT = "/store"
# The settings every packaging must agree on (compose, the ConfigMap, the images' ENV).
SHARED_SETTINGS = {
    "SENTIMENT_RUN_DIR": "/run/sentiment",
    "SENTIMENT_MODEL_STORE": "/store/archives",
    "SENTIMENT_MODELS_DIR": "/store/models",
    "SENTIMENT_JOB_DIR": "/store/jobs",
    "SENTIMENT_NSMC_CACHE_DIR": "/store/nsmc",
    "SENTIMENT_GATEWAY_BIND": "0.0.0.0:5000",
}


# --- tools ---------------------------------------------------------------------------------------

def kustomize_v5(path: str) -> str | None:
    """What is wrong with the kubectl at `path` for these manifests (labels, patches, envs), if anything."""
    result = run(path, "version", "--client", "-o", "json")
    info = json.loads(result.stdout) if result.returncode == 0 else {}
    kustomize = info.get("kustomizeVersion", "")
    major = re.match(r"v(\d+)\.", kustomize)
    if major and int(major.group(1)) >= 5:
        return None
    client = info.get("clientVersion", {}).get("gitVersion", "unknown version")
    return f"{path} ({client}) has kustomize {kustomize or '< v4'}; the manifests need v5"


_KUBECTL: list[str] = []


def kubectl() -> str:
    """kubectl, the venv's (requirements-test-tools.txt) before any on PATH, with kustomize v5 or later."""
    if not _KUBECTL:
        _KUBECTL.append(require_tool("kubectl", check=kustomize_v5))
    return _KUBECTL[0]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout)


def kubernetes_validate():
    try:
        import kubernetes_validate as module
    except ImportError:
        pytest.fail("kubernetes-validate is not installed: `make setup` (pyproject.toml's test extra, "
                    "from requirements.lock)")
    return module


# --- rendering -----------------------------------------------------------------------------------

_RENDERED: dict[str, list[dict]] = {}


def rendered(overlay: str) -> list[dict]:
    """The overlay as `kubectl kustomize` renders it: a list of objects (rendered once per run)."""
    if overlay not in _RENDERED:
        result = run(kubectl(), "kustomize", str((K8S / "overlays" / overlay).relative_to(PROJECT_ROOT)))
        assert_ok(result)
        _RENDERED[overlay] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return _RENDERED[overlay]


def one(objects: list[dict], kind: str) -> dict:
    matches = [o for o in objects if o["kind"] == kind]
    assert len(matches) == 1, f"expected one {kind}, found {len(matches)}"
    return matches[0]


def pod_spec(overlay: str) -> dict:
    return one(rendered(overlay), "Deployment")["spec"]["template"]["spec"]


def containers(overlay: str) -> dict[str, dict]:
    return {c["name"]: c for c in pod_spec(overlay)["containers"]}


def settings_configmap(overlay: str) -> dict[str, str]:
    maps = [o for o in rendered(overlay) if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith(
        "sentiment-settings")]
    assert len(maps) == 1
    return maps[0]["data"]


# --- Kubernetes: schema validation ------------------------------------------------------------------

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_every_kind(overlay):
    kinds = sorted(o["kind"] for o in rendered(overlay))
    assert kinds == sorted(["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "NetworkPolicy",
                            "PersistentVolumeClaim", "PodDisruptionBudget", "Secret", "Secret", "Secret", "Service"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_validates_strictly_against_kubernetes_schemas(overlay):
    kv = kubernetes_validate()
    errors = []
    for version in (OLDEST_KUBERNETES, kv.latest_version()):
        for obj in rendered(overlay):
            try:
                kv.validate(obj, version, strict=True)
            except kv.ValidationError as exc:
                where = ".".join(str(p) for p in exc.path)
                errors.append(f"{version} {obj['kind']}/{obj['metadata']['name']} {where}: {exc.message}")
    assert not errors, "\n".join(errors)


def test_strict_validation_catches_a_misspelt_field():
    kv = kubernetes_validate()
    deployment = json.loads(json.dumps(one(rendered("cpu"), "Deployment")))
    gateway = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "gateway")
    gateway["readinesProbe"] = gateway.pop("readinessProbe")
    with pytest.raises(kv.ValidationError):
        kv.validate(deployment, OLDEST_KUBERNETES, strict=True)


# --- Kubernetes: what the deployment relies on ------------------------------------------------------

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_three_containers_with_their_commands_and_a_store_seeding_init_container(overlay):
    found = containers(overlay)
    assert set(found) == CONTAINERS
    for name, container in found.items():
        assert container["command"] == COMMANDS[name]
    (init,) = pod_spec(overlay)["initContainers"]
    assert init["command"] == ["sh", "/app/deploy/docker/seed-store.sh"]
    assert {m["mountPath"] for m in init["volumeMounts"]} == {STORE_MOUNT}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rolling_update_never_drops_below_the_wanted_pods(overlay):
    spec = one(rendered(overlay), "Deployment")["spec"]
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert "replicas" not in spec, "the HPA owns the replica count; `kubectl apply` must not reset it"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_probes(overlay):
    gateway = containers(overlay)["gateway"]
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert gateway["startupProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    # /readyz gives each model 2 s (SENTIMENT_READINESS_TIMEOUT_SECONDS): the probe waits longer.
    assert gateway["readinessProbe"]["timeoutSeconds"] > Settings.model_fields["readiness_timeout_seconds"].default


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_torchserve_probes_run_inside_the_pod(overlay):
    """Its listeners are on loopback, which kubelet's HTTP probes cannot reach: exec probes."""
    torchserve = containers(overlay)["torchserve"]
    for probe in ("startupProbe", "livenessProbe"):
        command = torchserve[probe]["exec"]["command"]
        assert command[:2] == ["python", "-c"] and "127.0.0.1" in command[2]
        compile(command[2], probe, "exec")
    assert "readinessProbe" not in torchserve  # the gateway's /readyz asks every model instead


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_termination_drains_gateway_before_torchserve(overlay):
    spec, found = pod_spec(overlay), containers(overlay)

    def pre_stop_sleep(name):
        command = found[name]["lifecycle"]["preStop"]["exec"]["command"]
        assert command[0] == "sleep"
        return int(command[1])

    gunicorn_graceful_timeout = Settings.model_fields["gateway_graceful_timeout_seconds"].default
    gateway_done = pre_stop_sleep("gateway") + gunicorn_graceful_timeout
    assert pre_stop_sleep("torchserve") >= gateway_done
    assert spec["terminationGracePeriodSeconds"] >= pre_stop_sleep("torchserve") + 10


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_resources_requested_and_memory_limited(overlay):
    spec = pod_spec(overlay)
    for container in spec["containers"] + spec["initContainers"]:
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), container["name"]
        assert "memory" in resources["limits"], container["name"]
    found = containers(overlay)

    def gib(quantity: str) -> float:
        number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(Gi|Mi)", quantity).groups()
        return float(number) / (1 if unit == "Gi" else 1024)

    # Measured (docs/performance.md "Memory"): TorchServe ~1.3 GiB steady, one more fast worker (~0.6 GiB) while a
    # new version loads; a /train job needs ~2 GiB beside the gateway.
    assert gib(found["torchserve"]["resources"]["requests"]["memory"]) >= 1.3
    assert gib(found["torchserve"]["resources"]["limits"]["memory"]) >= 1.3 + 0.6
    assert gib(found["gateway"]["resources"]["limits"]["memory"]) >= 2 + 0.25


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_port_is_exposed(overlay):
    objects = rendered(overlay)
    exposed = [(c["name"], p["containerPort"]) for c in pod_spec(overlay)["containers"] for p in c.get("ports", [])]
    assert exposed == [("gateway", GATEWAY_PORT)]
    service = one(objects, "Service")
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(80, "http")]
    assert containers(overlay)["gateway"]["ports"][0]["name"] == "http"
    policy = one(objects, "NetworkPolicy")["spec"]
    assert [p["port"] for rule in policy["ingress"] for p in rule["ports"]] == [GATEWAY_PORT]
    assert not TORCHSERVE_PORTS & {p["port"] for rule in policy["ingress"] for p in rule["ports"]}
    assert {p["port"] for rule in policy["egress"] for p in rule["ports"]} == {53}  # DNS only
    assert all("to" not in rule or rule["to"] for rule in policy["egress"])
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_policy_and_budget_select_the_pods(overlay):
    objects = rendered(overlay)
    labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    selectors = [one(objects, "Service")["spec"]["selector"],
                 one(objects, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"],
                 one(objects, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
                 one(objects, "Deployment")["spec"]["selector"]["matchLabels"]]
    for selector in selectors:
        assert selector and selector.items() <= labels.items()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_shared_volumes(overlay):
    spec = pod_spec(overlay)
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes["run"], "the run dir is per pod"
    pvc_name = volumes["store"]["persistentVolumeClaim"]["claimName"]
    pvc = one(rendered(overlay), "PersistentVolumeClaim")
    assert pvc["metadata"]["name"] == pvc_name
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    run_dir = settings_configmap(overlay)["SENTIMENT_RUN_DIR"]
    for container in spec["containers"]:
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert mounts.get(run_dir) == "run", container["name"]
        assert mounts.get(STORE_MOUNT) == "store", container["name"]
        assert "emptyDir" in volumes[mounts["/tmp"]], container["name"]  # writable /tmp, read-only root


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_security_context(overlay):
    spec = pod_spec(overlay)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False  # service links would inject SENTIMENT_*-prefixed variables
    for container in spec["containers"] + spec["initContainers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, container["name"]
        assert context["allowPrivilegeEscalation"] is False, container["name"]
        assert context["capabilities"]["drop"] == ["ALL"], container["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_settings_configmap(overlay):
    data = settings_configmap(overlay)
    for key, value in SHARED_SETTINGS.items():
        assert data[key] == value, key
    assert data["SENTIMENT_TORCHSERVE_HOST"] == "127.0.0.1"
    env = {k: v for k, v in data.items() if k.startswith(ENV_PREFIX)}
    unknown = {key for key in env if key[len(ENV_PREFIX):].lower() not in Settings.model_fields}
    assert not unknown, f"not settings (core/settings.py): {unknown}"
    # the values parse as the service will read them
    settings = Settings(**{k[len(ENV_PREFIX):].lower(): v if k != "SENTIMENT_SERVED_MODELS" else json.loads(v)
                           for k, v in env.items()})
    assert settings.job_dir == Path(data["SENTIMENT_JOB_DIR"])
    assert settings.served_models == ["fast", "accurate"]
    gateway_env = {e["name"]: e for e in containers(overlay)["gateway"]["env"]}
    secrets = {o["metadata"]["name"]: o["stringData"] for o in rendered(overlay) if o["kind"] == "Secret"}
    for variable, (secret, key) in {"SENTIMENT_ADMIN_TOKEN": ("sentiment-admin", "token"),
                                    "SENTIMENT_FEEDBACK_TOKEN": ("sentiment-feedback", "token"),
                                    "SENTIMENT_DATABASE_URL": ("sentiment-database", "url")}.items():
        assert gateway_env[variable]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": key}
        assert key in secrets[secret]
    assert settings.replicas > 1  # pods share the store: SQLite is refused, the Secret's URL is used
    for container in pod_spec(overlay)["containers"]:
        assert container["envFrom"] == [{"configMapRef": {"name": next(
            o["metadata"]["name"] for o in rendered(overlay) if o["kind"] == "ConfigMap")}}]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscaler_and_disruption_budget(overlay):
    objects = rendered(overlay)
    hpa = one(objects, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": one(objects, "Deployment")["metadata"]["name"]}
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "ContainerResource"
    assert metric["containerResource"]["name"] == "cpu"
    assert metric["containerResource"]["container"] == "torchserve"
    assert metric["containerResource"]["target"]["type"] == "Utilization"
    assert hpa["spec"]["minReplicas"] == (1 if overlay == "gpu" else 2)
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    pdb = one(objects, "PodDisruptionBudget")["spec"]
    assert pdb.get("maxUnavailable") == 1 or pdb.get("minAvailable") == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_prometheus_scrapes_the_gateway(overlay):
    annotations = one(rendered(overlay), "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(GATEWAY_PORT)
    assert annotations["prometheus.io/path"] == "/metrics"


def test_gpu_overlay_gives_torchserve_one_gpu_on_gpu_nodes():
    spec = pod_spec("gpu")
    found = containers("gpu")
    assert found["torchserve"]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "nvidia.com/gpu" not in found["gateway"]["resources"]["limits"]
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    assert {c["image"] for c in spec["containers"] + spec["initContainers"]} == {"nsmc-sentiment:gpu"}
    cpu_spec = pod_spec("cpu")
    assert "nodeSelector" not in cpu_spec and "tolerations" not in cpu_spec
    assert all("nvidia.com/gpu" not in c["resources"]["limits"] for c in cpu_spec["containers"])
    assert {c["image"] for c in cpu_spec["containers"] + cpu_spec["initContainers"]} == {"nsmc-sentiment:latest"}


# --- Dockerfiles -----------------------------------------------------------------------------------------

def test_hadolint():
    hadolint = require_tool("hadolint")
    assert_ok(run(hadolint, "--config", ".hadolint.yaml", *(str(p.relative_to(PROJECT_ROOT)) for p in DOCKERFILES)))


def dockerfile_env(path: Path) -> dict[str, str]:
    """The ENV values a Dockerfile sets (KEY=VALUE form, with line continuations)."""
    text = path.read_text().replace("\\\n", " ")
    env = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(re.findall(r"(\w+)=(\S+)", line))
    return env


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_essentials(path):
    text = path.read_text()
    env = dockerfile_env(path)
    for key, value in SHARED_SETTINGS.items():
        assert env[key] == value, key
    assert re.search(r"^USER 10001:10001$", text, re.M), "runs as the non-root user the pod expects"
    assert 'CMD ["python", "-m", "deploy", "gateway"]' in text
    assert "HEALTHCHECK" in text and "/livez" in text
    assert "openjdk-17-jre-headless" in text
    assert "COPY --chown=app:app archives/*.mar archives/registry.json /app/archives/" in text
    # Only the runtime set, from its lock with hashes; torch's version is the lock's, never written here.
    assert "COPY requirements-runtime.lock /app/requirements-runtime.lock" in text
    command = " ".join(text.replace("\\\n", " ").split())
    assert re.search(r"pip install [^&]*--require-hashes [^&]*-r /(app|tmp)/requirements-(runtime|gpu)\.lock", command)
    assert "requirements.lock" not in text  # the full lock: test, benchmark and lint tools
    assert not re.search(r"torch==\d", text)
    gpu = path.name.endswith(".gpu")
    assert ("whl/cpu" in text) is not gpu
    assert ("onnxruntime-gpu" in text) is gpu
    assert ("number_of_gpu=1" in text) is gpu
    base = re.search(r"^FROM (\S+)", text, re.M).group(1)
    assert base.startswith("nvidia/cuda:") and "cudnn-runtime" in base if gpu else base == "python:3.11-slim-bookworm"


# --- YAML and compose ----------------------------------------------------------------------------------

def test_yamllint():
    yamllint = require_tool("yamllint")
    assert_ok(run(yamllint, "--strict", "-c", ".yamllint.yaml", "compose.yaml", "deploy", "monitoring",
                  ".yamllint.yaml", ".hadolint.yaml"))


def compose_validator():
    try:
        import jsonschema
    except ImportError:
        pytest.fail("jsonschema is not installed: `make setup` (pyproject.toml's test extra, "
                    "from requirements.lock)")
    return jsonschema.Draft7Validator(json.loads(COMPOSE_SCHEMA.read_text()))


@pytest.mark.parametrize("path", (COMPOSE, COMPOSE_GPU), ids=lambda p: p.name)
def test_compose_matches_the_compose_specification(path):
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
              for e in compose_validator().iter_errors(yaml.safe_load(path.read_text()))]
    assert not errors, "\n".join(errors)


def test_compose_validation_catches_a_misspelt_key():
    compose = yaml.safe_load(COMPOSE.read_text())
    compose["services"]["gateway"]["network-mode"] = compose["services"]["gateway"].pop("network_mode")
    assert list(compose_validator().iter_errors(compose))


def test_compose_is_one_pod():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert set(services) == {"pod", "store-init", "postgres"} | CONTAINERS
    assert services["postgres"]["network_mode"] == "service:pod" and "ports" not in services["postgres"]
    assert services["gateway"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for name in CONTAINERS:
        service = services[name]
        assert service["command"] == COMMANDS[name]
        assert service["network_mode"] == "service:pod"  # one loopback, as in a pod
        assert {"store:/store", "run:/run/sentiment"} <= set(service["volumes"])
        assert "ports" not in service
        env = service["environment"]
        for key, value in SHARED_SETTINGS.items():
            assert env[key] == value, (name, key)
        assert env["SENTIMENT_TORCHSERVE_HOST"] == "127.0.0.1"
    assert services["pod"]["ports"] == ["${SENTIMENT_PUBLISH:-127.0.0.1:5000}:5000"]
    assert services["store-init"]["command"] == ["sh", "/app/deploy/docker/seed-store.sh"]
    assert services["torchserve"]["depends_on"] == {"store-init": {"condition": "service_completed_successfully"}}
    assert services["gateway"]["environment"]["SENTIMENT_ADMIN_TOKEN"] == "${SENTIMENT_ADMIN_TOKEN:-}"


def test_compose_gpu_override():
    services = yaml.safe_load(COMPOSE_GPU.read_text())["services"]
    base = yaml.safe_load(COMPOSE.read_text())["services"]
    assert set(services) == set(base) - {"postgres"}  # the database has no image of ours
    for service in services.values():
        assert service["build"]["dockerfile"] == "deploy/docker/Dockerfile.gpu"
    (device,) = services["torchserve"]["deploy"]["resources"]["reservations"]["devices"]
    assert device == {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}


# --- the store seeding script ----------------------------------------------------------------------------

def seed(tmp_path: Path, seed_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEED_DIR": str(seed_dir), "SENTIMENT_MODEL_STORE": str(tmp_path / "store" / "archives"),
           "SENTIMENT_MODELS_DIR": str(tmp_path / "store" / "models"),
           "SENTIMENT_JOB_DIR": str(tmp_path / "store" / "jobs")}
    return subprocess.run(["sh", str(SEED_SCRIPT)], env=env, capture_output=True, text=True, timeout=30)


def test_seed_store_seeds_an_empty_store_and_leaves_a_seeded_one_alone(tmp_path):
    seed_dir = tmp_path / "image-archives"
    seed_dir.mkdir()
    (seed_dir / "fast.mar").write_bytes(b"fast v1")
    (seed_dir / "accurate.mar").write_bytes(b"accurate v1")
    (seed_dir / "registry.json").write_text('{"fast": {"serving": "1"}}')
    store = tmp_path / "store" / "archives"

    assert_ok(seed(tmp_path, seed_dir))
    assert sorted(p.name for p in store.iterdir()) == ["accurate.mar", "fast.mar", "registry.json"]
    assert (store / "fast.mar").read_bytes() == b"fast v1"
    assert (tmp_path / "store" / "models").is_dir() and (tmp_path / "store" / "jobs").is_dir()

    # a promotion since: the store's registry and archives win over the image's
    (store / "registry.json").write_text('{"fast": {"serving": "2"}}')
    (store / "fast.v2.mar").write_bytes(b"fast v2")
    (store / "fast.mar").unlink()
    result = seed(tmp_path, seed_dir)
    assert_ok(result)
    assert "left as it is" in result.stdout
    assert (store / "registry.json").read_text() == '{"fast": {"serving": "2"}}'
    assert not (store / "fast.mar").exists()


def test_seed_store_fills_in_a_half_seeded_store(tmp_path):
    seed_dir = tmp_path / "image-archives"
    seed_dir.mkdir()
    (seed_dir / "fast.mar").write_bytes(b"fast v1")
    (seed_dir / "registry.json").write_text("{}")
    store = tmp_path / "store" / "archives"
    store.mkdir(parents=True)
    (store / "fast.mar").write_bytes(b"fast v1")  # copied before an interrupted seeding

    assert_ok(seed(tmp_path, seed_dir))
    assert sorted(p.name for p in store.iterdir()) == ["fast.mar", "registry.json"]


def test_seed_store_without_archives_in_the_image_fails(tmp_path):
    empty = tmp_path / "image-archives"
    empty.mkdir()
    result = seed(tmp_path, empty)
    assert result.returncode != 0
    assert "make archive" in result.stderr
