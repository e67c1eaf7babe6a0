"""The ground floor: settings, the model store and its migration from the earlier layout."""
import json

import pytest

from core.errors import Conflict
from core.files import write_json_atomic
from core.paths import PROJECT_ROOT
from core.settings import Settings, settings_table
from core.store import ModelStore


def test_settings_come_from_one_prefix_and_round_trip_through_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SENTIMENT_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("SENTIMENT_SERVED_MODELS", '["fast"]')
    monkeypatch.setenv("NSMC_DIR", "/data/nsmc")
    monkeypatch.setenv("GATEWAY_WORKERS", "7")  # the earlier prefix is not read
    settings = Settings()
    assert settings.key_file == tmp_path / "key_file.json" and settings.job_dir == tmp_path / "jobs"
    assert settings.served_models == ["fast"] and str(settings.nsmc_dir) == "/data/nsmc"
    assert settings.gateway_workers == 2
    for name, value in settings.as_env().items():
        monkeypatch.setenv(name, value)
    assert Settings() == settings


def test_the_settings_page_lists_every_setting_with_its_default():
    assert settings_table() in (PROJECT_ROOT / "docs" / "settings.md").read_text(), \
        "run `python -m core.settings` into docs/settings.md"


def test_auto_threshold_default_is_the_one_bench_cascade_chose():
    """The default is copied from docs/cascade.json (what `python -m bench.cascade` records): the two agree."""
    recorded = json.loads((PROJECT_ROOT / "docs" / "cascade.json").read_text())["threshold"]
    assert Settings.model_fields["auto_threshold"].default == recorded, \
        "update auto_threshold's default to docs/cascade.json's threshold (or rerun bench.cascade)"


def test_json_is_replaced_whole_and_leaves_no_temporary_file(tmp_path):
    """The one atomic JSON write (job status, the registry, reconcile.json)."""
    path = tmp_path / "status.json"
    write_json_atomic(path, {"state": "queued"})
    write_json_atomic(path, {"state": "running"}, indent=None, mode=0o600)
    assert json.loads(path.read_text()) == {"state": "running"} and path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_store_versions_promote_and_rollback_target(tmp_path):
    store = ModelStore(tmp_path)
    store.add_version("fast", "1", "fast.mar", {"test_accuracy": 0.88, "ignored": 1}, serve_if_none=True)
    store.add_version("fast", "2", "fast.v2.mar", {"test_accuracy": 0.89})
    assert store.serving("fast").version == "1" and store.serving("fast").info == {"test_accuracy": 0.88}
    assert store.next_version("fast") == "3"
    with pytest.raises(Conflict, match="no previous"):
        store.rollback_target("fast")
    store.promote("fast", "2")
    assert (store.serving("fast").version, store.previous("fast").version) == ("2", "1")
    with pytest.raises(Conflict, match="no longer in the model store"):
        store.rollback_target("fast")
    (tmp_path / "fast.mar").touch()
    assert store.rollback_target("fast").file == "fast.mar"
    with pytest.raises(Conflict):
        store.promote("fast", "9")
    assert [v.version for v in store.versions("fast")] == ["1", "2"]
    assert store.draining("fast", seconds=60).version == "1"  # just replaced: its queue may hold requests
    assert store.draining("fast", seconds=0) is None


def test_a_version_being_loaded_is_a_candidate_until_promoted(tmp_path):
    """Reconcilers unload what is neither served nor a candidate: a rollback's target loads as one."""
    store = ModelStore(tmp_path)
    store.add_version("fast", "1", "fast.mar", {}, serve_if_none=True)
    store.add_version("fast", "2", "fast.v2.mar", {})
    store.set_stage("fast", "2", "candidate")
    assert store.candidates("fast") == {"2"}
    store.promote("fast", "2")
    assert store.candidates("fast") == set() and "stage" not in store.get("fast", "2").info


def test_a_store_of_the_earlier_layout_is_migrated_without_losing_anything(tmp_path):
    legacy = {"nsmc_fast": {"serving": "2", "previous": "1", "versions": {
        "1": {"file": "nsmc_fast.mar", "test_accuracy": 0.88}, "2": {"file": "nsmc_fast.v2.mar"}}},
        "nsmc_bert": {"serving": "1", "previous": None, "versions": {"1": {"file": "nsmc_bert.mar"}}}}
    (tmp_path / "registry.json").write_text(json.dumps(legacy))
    for name in ("nsmc_fast.mar", "nsmc_fast.v2.mar", "nsmc_bert.mar"):
        (tmp_path / name).write_text(name)
    store = ModelStore(tmp_path)
    assert store.migrate()
    assert (store.serving("fast").version, store.serving("fast").file) == ("2", "fast.v2.mar")
    assert store.previous("fast").file == "fast.mar" and store.previous("fast").info == {"test_accuracy": 0.88}
    assert store.serving("accurate").file == "accurate.mar"
    assert (tmp_path / "fast.v2.mar").read_text() == "nsmc_fast.v2.mar"  # the same bytes, renamed
    assert sorted(p.name for p in tmp_path.glob("*.mar")) == ["accurate.mar", "fast.mar", "fast.v2.mar"]
    assert store.migrate() == []  # idempotent
