import subprocess

import pytest

from core.settings import NSMC_ROWS
from train.data import NSMC_FILES, NSMCDataError, git_blob_id, load_split, nsmc_path, read_split_file, train_dev_split


def test_blob_id_matches_git(tmp_path):
    path = tmp_path / "f.txt"
    path.write_bytes("id\tdocument\tlabel\n1\t좋다\t1\n".encode())
    expected = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True, check=True).stdout.strip()
    assert git_blob_id(path) == expected


def test_missing_file_names_the_fix(tmp_path):
    with pytest.raises(NSMCDataError, match="NSMC_DIR"):
        nsmc_path("train", tmp_path)


def test_tampered_file_is_rejected(tmp_path):
    (tmp_path / "ratings_test.txt").write_text("id\tdocument\tlabel\n1\t좋다\t1\n")
    with pytest.raises(NSMCDataError, match="not the canonical NSMC file"):
        nsmc_path("test", tmp_path)


def test_malformed_row_is_reported_with_its_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("id\tdocument\tlabel\n1\t좋다\t1\n2\t별로\n")
    with pytest.raises(NSMCDataError, match=":3:"):
        read_split_file(path)


def test_empty_documents_are_kept(tmp_path):
    path = tmp_path / "ok.txt"
    path.write_text("id\tdocument\tlabel\n1\t\t0\n2\t좋다\t1\n")
    split = read_split_file(path)
    assert split.texts == ["", "좋다"] and list(split.labels) == [0, 1]


def test_real_corpus_verifies_and_has_expected_size(nsmc_dir):
    for split, rows in NSMC_ROWS.items():
        assert git_blob_id(nsmc_path(split, nsmc_dir)) == NSMC_FILES[split][1]
        assert len(load_split(split, nsmc_dir)) == rows


def test_dev_split_is_stratified_and_deterministic(nsmc_dir):
    data = load_split("train", nsmc_dir).subset(10_000)
    train, dev = train_dev_split(data)
    again_train, _ = train_dev_split(data)
    assert len(dev) == 1_000 and len(train) == 9_000
    assert abs(dev.labels.mean() - data.labels.mean()) < 0.01
    assert train.texts == again_train.texts
