"""Session fixtures: a fast model trained on an NSMC subset, its archive, and a live stack."""
from __future__ import annotations

import contextlib
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from core.models import ACCURATE, FAST, MODELS
from core.settings import Settings, get_settings
from core.store import ModelStore
from deploy.stack import Stack
from tests.helpers import SEED_NEGATIVE, SEED_POSITIVE, require_tool
from train import fast, morphemes
from train.archive import publish
from train.data import Split, find_corpus

FIXTURE_TRAIN_ROWS = 20_000
FIXTURE_TEST_ROWS = 2_000


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """`@pytest.mark.tools("chromium", ...)`: tools the test runs, required (require_tool: a missing
    one skips it, or fails it under CI=true) before any of its fixtures is set up."""
    for marker in item.iter_markers("tools"):
        for name in marker.args:
            require_tool(name)


@pytest.fixture(scope="session")
def nsmc_dir() -> Path:
    directory = find_corpus()
    if directory is None:
        pytest.fail("NSMC not found: set NSMC_DIR to the directory with ratings_train.txt / ratings_test.txt, "
                    "or run `make deploy` once, which downloads it into the cache")
    return directory


@pytest.fixture(scope="session")
def fast_model_dir(tmp_path_factory, nsmc_dir) -> Path:
    pipeline, metrics = fast.train_and_evaluate(nsmc_dir, FIXTURE_TRAIN_ROWS, FIXTURE_TEST_ROWS)
    return fast.save(pipeline, metrics, tmp_path_factory.mktemp("fast_model"))


@pytest.fixture(scope="session")
def morpheme_model_dir(tmp_path_factory) -> Path:
    """A small fast model with the optional morpheme block, for the serving paths it adds."""
    docs = [SEED_POSITIVE, SEED_NEGATIVE, "재밌다 재밌다 진짜", "지루하다 진짜", "배우 연기 좋다", "연기 별로 지루"]
    train = Split(docs * 4, np.array([1, 0] * 12))
    recipe = fast.FastParams(min_df=1, use_morphemes=True)
    pipeline, _ = fast.fit(train, recipe, n_jobs=1, cache_dir=tmp_path_factory.mktemp("morpheme_cache"))
    assert morphemes.kiwi_step(pipeline) is not None
    return fast.save(pipeline, {"params": asdict(recipe)}, tmp_path_factory.mktemp("morpheme_model"))


@pytest.fixture(params=["default recipe", "with morphemes"])
def any_fast_model_dir(request) -> Path:
    return request.getfixturevalue("fast_model_dir" if request.param == "default recipe" else "morpheme_model_dir")


@pytest.fixture
def gateway_settings(tmp_path) -> Settings:
    """An in-process gateway's settings: its own run dir and (empty) model store, admin token "t"."""
    return Settings(run_dir=tmp_path / "run", model_store=tmp_path / "store", admin_token="t")


@pytest.fixture
def make_client(gateway_settings):
    """`make_client(**overrides)`: the gateway in-process on gateway_settings with `overrides`
    (e.g. max_texts=7), as Flask's test client: for views that need no TorchServe (the page, the
    docs, job status, rollback's checks). The overrides are not validated, and paths derived from
    run_dir keep gateway_settings' run dir."""
    from gateway.app import create_app

    def make(**overrides):
        return create_app(gateway_settings.model_copy(update=overrides)).test_client()

    return make


@pytest.fixture
def client(make_client):
    """The gateway in-process on gateway_settings, as Flask's test client."""
    return make_client()


@pytest.fixture(scope="session")
def model_store(tmp_path_factory, fast_model_dir) -> Path:
    store = tmp_path_factory.mktemp("archives")
    publish(FAST, fast_model_dir, ModelStore(store))
    return store


def make_stack(run_dir: Path, model_store: Path, models=(FAST,), **overrides) -> Stack:
    return Stack.on_free_ports(run_dir, model_store, models, **overrides)


@pytest.fixture(scope="session")
def fast_stack(tmp_path_factory, model_store):
    """TorchServe with only the fast model, plus the gateway, on free loopback ports."""
    with running(make_stack(tmp_path_factory.mktemp("run_fast"), model_store, (FAST,))) as stack:
        yield stack


@contextlib.contextmanager
def running(stack: Stack):
    try:
        stack.start(240)
        yield stack
    finally:
        stack.stop()
        print_log_tails(stack)  # shown by pytest only when something failed


def print_job_logs(job_dir: Path, chars: int = 3000) -> None:
    """The end of every training job's log (shown by pytest only when something failed)."""
    for log in sorted(Path(job_dir).glob("*.log")):
        print(f"--- {log}\n{log.read_text()[-chars:]}")


def print_log_tails(stack: Stack, lines: int = 30) -> None:
    for log in ("torchserve.log", "reconcile.log", "gateway.log"):
        path = stack.run_dir / log
        if path.exists():
            print(f"--- tail of {path}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]))


@pytest.fixture(scope="session")
def shipped_bert_dir() -> Path:
    path = get_settings().models_dir / MODELS[ACCURATE].source_dir
    if not (path / MODELS[ACCURATE].required_file).exists():
        pytest.fail(f"the shipped BERT model is missing at {path}; `make train-bert` rebuilds it")
    return path


@pytest.fixture(scope="session")
def full_stack(tmp_path_factory, model_store, shipped_bert_dir):
    """TorchServe with both models (the accurate one is the shipped default), plus the gateway."""
    publish(ACCURATE, shipped_bert_dir, ModelStore(model_store))
    stack = make_stack(tmp_path_factory.mktemp("run_full"), model_store, (FAST, ACCURATE))
    with running(stack):
        yield stack
