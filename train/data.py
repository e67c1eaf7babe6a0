"""Load NSMC from a local directory or its canonical GitHub URLs, verified by git blob id."""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests
from sklearn.model_selection import train_test_split

from core.settings import get_settings

log = logging.getLogger(__name__)

NSMC_FILES = {
    # git blob ids (`git hash-object FILE`) of the canonical corpus at github.com/e9t/nsmc
    "train": ("ratings_train.txt", "ac0dba272895dc1d0b3dd5f11afbeaeb7abe7876"),
    "test": ("ratings_test.txt", "b6cfcd8cd1557bcd9bf06617b0e429ed73e9a367"),
}
NSMC_URL = "https://raw.githubusercontent.com/e9t/nsmc/master/{filename}"
DATA_DIR_HINT = "NSMC_DIR (or SENTIMENT_NSMC_DIR, or --data-dir)"


class NSMCDataError(RuntimeError):
    """The corpus is missing, unreachable or not the canonical bytes."""


@dataclass(frozen=True)
class Split:
    texts: list[str]
    labels: np.ndarray  # 0 negative, 1 positive

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, n: int | None, seed: int = 0) -> "Split":
        """A class-stratified random subset of n rows (all rows when n is None or too big)."""
        return self.subset_and_rest(n, seed)[0]

    def subset_and_rest(self, n: int | None, seed: int = 0) -> tuple["Split", "Split"]:
        """`subset(n, seed)` and the rows it left out (e.g. to send as feedback)."""
        if n is None or n >= len(self):
            return self, Split([], self.labels[:0])
        idx, rest = train_test_split(
            np.arange(len(self)), train_size=n, stratify=self.labels, random_state=seed
        )
        idx.sort()
        rest.sort()
        return Split([self.texts[i] for i in idx], self.labels[idx]), Split([self.texts[i] for i in rest], self.labels[rest])


def git_blob_id(path: Path) -> str:
    """The id `git hash-object` gives a file: sha1 of 'blob <size>\\0' + content."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, expected: str) -> Path:
    actual = git_blob_id(path)
    if actual != expected:
        raise NSMCDataError(
            f"{path} is not the canonical NSMC file (git blob id {actual}, expected {expected}). "
            f"Replace it with the file from github.com/e9t/nsmc or delete it to download again."
        )
    return path


def _download(url: str, dest: Path) -> None:
    log.info("downloading %s", url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with requests.get(url, stream=True, timeout=30) as response:
            response.raise_for_status()
            with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False) as tmp:
                for chunk in response.iter_content(1 << 20):
                    tmp.write(chunk)
        os.replace(tmp.name, dest)
    except requests.RequestException as exc:
        raise NSMCDataError(
            f"could not download {url} ({exc}). Offline? Point {DATA_DIR_HINT} "
            f"at a directory holding ratings_train.txt and ratings_test.txt."
        ) from exc


def data_dir_from_env(data_dir: str | Path | None = None) -> Path | None:
    """The explicit data directory: the argument, else the nsmc_dir setting, else None (download)."""
    chosen = data_dir or get_settings().nsmc_dir
    return Path(chosen).expanduser() if chosen else None


def find_corpus() -> Path | None:
    """Where the verified corpus already is without downloading: the nsmc_dir setting, else the
    download cache; None when neither holds both files (tests use this to find the data)."""
    settings = get_settings()
    for directory in (settings.nsmc_dir, settings.nsmc_cache_dir):
        if directory and all((Path(directory) / name).is_file() for name, _ in NSMC_FILES.values()):
            return Path(directory)
    return None


def nsmc_path(split: str, data_dir: str | Path | None = None) -> Path:
    """A verified local path to one split, downloading into the cache if no directory is given."""
    filename, blob_id = NSMC_FILES[split]
    directory = data_dir_from_env(data_dir)
    if directory is not None:
        path = directory / filename
        if not path.is_file():
            raise NSMCDataError(
                f"{path} does not exist. Set {DATA_DIR_HINT} to the directory "
                f"holding NSMC's {filename}, or unset it to download the corpus."
            )
        return _verify(path, blob_id)
    path = get_settings().nsmc_cache_dir / filename
    if not path.is_file():
        _download(NSMC_URL.format(filename=filename), path)
    return _verify(path, blob_id)


def read_split_file(path: Path) -> Split:
    """Parse an NSMC file: a header, then `id<TAB>document<TAB>label` rows (document may be empty)."""
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line_no, line in enumerate(f, start=2):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3 or parts[2] not in ("0", "1"):
                raise NSMCDataError(f"{path}:{line_no}: expected 'id<TAB>document<TAB>label'")
            texts.append(parts[1])
            labels.append(int(parts[2]))
    return Split(texts, np.asarray(labels, dtype=np.int64))


def load_split(split: str, data_dir: str | Path | None = None) -> Split:
    return read_split_file(nsmc_path(split, data_dir))


def train_dev_split(data: Split, dev_fraction: float = 0.1, seed: int = 42) -> tuple[Split, Split]:
    """Carve a stratified dev split out of train; model selection never looks at test."""
    idx_train, idx_dev = train_test_split(
        np.arange(len(data)), test_size=dev_fraction, stratify=data.labels, random_state=seed
    )
    pick = lambda idx: Split([data.texts[i] for i in idx], data.labels[idx])  # noqa: E731
    return pick(idx_train), pick(idx_dev)
