"""scikit-learn's hashed n-grams (characters or tokens) for a whole batch of texts at once, with numpy.

HashingVectorizer makes every n-gram of every text a Python string and hashes each one
(MurmurHash3_x86_32 of its UTF-8 bytes) in a loop: about 0.5 µs an n-gram, ~270 character n-grams
a review, and most of the fast model's Python time. But an n-gram's UTF-8 bytes are a slice of its
text's (for tokens: of the tokens joined by single spaces, which is how scikit-learn spells a token
n-gram), so here each n-gram is a (start, length) into the batch's bytes and the hash runs over all
slices at once. The columns are scikit-learn's own (tests/test_ngram_hashing.py holds them equal,
hash by hash and text by text).
"""
from __future__ import annotations

import re

import numpy as np

# HashingVectorizer's whitespace normalization in its char analyzer (_VectorizerMixin._white_spaces).
_WHITE_SPACES = re.compile(r"\s\s+")
_C1, _C2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)
_INT32_MIN = -(2 ** 31)


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def _scramble(k: np.ndarray) -> np.ndarray:
    return _rotl(k * _C1, 15) * _C2


def _fmix(h: np.ndarray) -> np.ndarray:
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def murmurhash3_32(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, seed: int = 0) -> np.ndarray:
    """Signed MurmurHash3_x86_32 of each slice data[start:start + length] (data: uint8), as
    sklearn.utils.murmurhash3_32 computes it for those bytes."""
    padded = np.concatenate([np.asarray(data, dtype=np.uint8), np.zeros(4, dtype=np.uint8)]).astype(np.uint32)
    starts, lengths = np.asarray(starts, dtype=np.int64), np.asarray(lengths, dtype=np.int64)
    h = np.full(len(starts), seed, dtype=np.uint32)
    blocks = lengths // 4
    for j in range(int(blocks.max(initial=0))):
        on = np.flatnonzero(blocks > j)
        at = starts[on] + 4 * j
        k = (padded[at] | (padded[at + 1] << np.uint32(8)) | (padded[at + 2] << np.uint32(16))
             | (padded[at + 3] << np.uint32(24)))
        h[on] = _rotl(h[on] ^ _scramble(k), 13) * np.uint32(5) + np.uint32(0xE6546B64)
    tail = lengths & 3
    on = np.flatnonzero(tail)
    if len(on):
        at, size = starts[on] + 4 * blocks[on], tail[on]
        k = (padded[at] | np.where(size > 1, padded[at + 1] << np.uint32(8), 0).astype(np.uint32)
             | np.where(size > 2, padded[at + 2] << np.uint32(16), 0).astype(np.uint32))
        h[on] ^= _scramble(k)
    h ^= lengths.astype(np.uint32)
    return _fmix(h).view(np.int32)


def hashed_column(h: np.ndarray, n_features: int) -> np.ndarray:
    """FeatureHasher's column for a signed 32-bit hash (its Cython transform, without the sign)."""
    h = np.asarray(h, dtype=np.int64)
    return np.where(h == _INT32_MIN, (2147483647 - (n_features - 1)) % n_features, np.abs(h) % n_features)


class NgramHasher:
    """HashingVectorizer(alternate_sign=False).transform's entries, batched: (row, hashed column) of
    every n-gram occurrence, for a vectorizer whose n-grams are character windows or token windows."""

    def __init__(self, vectorizer):
        self.preprocess = vectorizer.build_preprocessor()
        self.decode = vectorizer.decode
        self.tokenize = vectorizer.build_tokenizer() if vectorizer.analyzer == "word" else None
        self.low, self.high = vectorizer.ngram_range
        self.n_features = vectorizer.n_features

    @classmethod
    def of(cls, vectorizer) -> NgramHasher | None:
        """One for this vectorizer, or None where its n-grams are not plain character or token windows."""
        analyzer = getattr(vectorizer, "analyzer", None)
        if (analyzer not in ("char", "word") or vectorizer.input != "content"
                or getattr(vectorizer, "alternate_sign", True)
                or (analyzer == "word" and vectorizer.stop_words is not None)
                or not 1 <= vectorizer.ngram_range[0] <= vectorizer.ngram_range[1]):
            return None
        return cls(vectorizer)

    def units(self, texts) -> list[list[str]] | list[str]:
        """Each text as its analyzer's units: its tokens, or (characters) the text as the char
        analyzer sees it, whitespace runs squeezed."""
        docs = (self.preprocess(self.decode(text)) for text in texts)
        if self.tokenize is not None:
            return [self.tokenize(doc) for doc in docs]
        return [_WHITE_SPACES.sub(" ", doc) for doc in docs]

    def __call__(self, texts) -> tuple[np.ndarray, np.ndarray]:
        units = self.units(texts)
        counts = np.fromiter(map(len, units), dtype=np.int64, count=len(units))
        if self.tokenize is None:
            joined = "".join(units)
            unit_start = np.arange(len(joined), dtype=np.int64)
            unit_end = unit_start + 1
        else:
            joined = "".join(" ".join(tokens) for tokens in units)
            sizes = np.fromiter((len(t) for tokens in units for t in tokens), dtype=np.int64, count=int(counts.sum()))
            first = np.zeros(len(sizes), dtype=bool)
            first[np.cumsum(counts)[counts > 0] - counts[counts > 0]] = True
            # each token starts after the one before it and, within its text, one space
            unit_start = np.cumsum(np.concatenate([[0], sizes[:-1] + ~first[1:]]))[:len(sizes)]
            unit_end = unit_start + sizes
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        data = np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)
        utf8_size = 1 + (codes >= 0x80) + (codes >= 0x800) + (codes >= 0x10000)
        byte_at = np.concatenate([[0], np.cumsum(utf8_size, dtype=np.int64)])  # of each char, and the end
        start_byte, end_byte = byte_at[unit_start], byte_at[unit_end]
        row_of = np.repeat(np.arange(len(units)), counts)
        room = np.repeat(np.cumsum(counts), counts) - np.arange(len(row_of))  # units from each to its text's end
        rows, starts, lengths = [], [], []
        for n in range(self.low, self.high + 1):
            first_unit = np.flatnonzero(room >= n)  # every window of n units inside one text
            rows.append(row_of[first_unit])
            starts.append(start_byte[first_unit])
            lengths.append(end_byte[first_unit + n - 1] - start_byte[first_unit])
        h = murmurhash3_32(data, np.concatenate(starts), np.concatenate(lengths))
        return np.concatenate(rows), hashed_column(h, self.n_features)
