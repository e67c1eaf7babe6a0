"""Token-id encoding, length-bucketed batches padded to the batch maximum, and MLM masking."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from transformers import PreTrainedTokenizerFast

PAD_MULTIPLE = 8  # pad each batch up to a multiple of this (friendlier kernel shapes)


@dataclass
class Encoded:
    """Token ids of each text ([CLS] ... [SEP], truncated), plus optional labels."""

    ids: list[np.ndarray]
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(x) for x in self.ids), dtype=np.int64, count=len(self.ids))


def encode(
    tokenizer: PreTrainedTokenizerFast,
    texts: list[str],
    max_length: int,
    labels: np.ndarray | None = None,
    chunk: int = 20_000,
) -> Encoded:
    """Encode cleaned texts in chunks (the fast tokenizer batches them across threads)."""
    ids: list[np.ndarray] = []
    for start in range(0, len(texts), chunk):
        out = tokenizer(
            texts[start : start + chunk],
            add_special_tokens=True,
            truncation=True,
            max_length=max_length,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        ids.extend(np.asarray(x, dtype=np.int64) for x in out)
    return Encoded(ids, None if labels is None else np.asarray(labels, dtype=np.int64))


def bucketed_batches(
    lengths: np.ndarray,
    batch_size: int,
    shuffle: bool,
    rng: np.random.Generator | None = None,
    chunk_batches: int = 50,
) -> list[np.ndarray]:
    """Index batches of similar-length rows.

    shuffle=True: shuffle rows, sort by length within chunks of chunk_batches batches, cut into
    batches and shuffle the batch order (random but nearly padding-free). shuffle=False: one global
    sort by length (for inference; callers scatter results back by index).
    """
    n = len(lengths)
    if not shuffle:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    rng = rng or np.random.default_rng()
    perm = rng.permutation(n)
    batches = []
    span = batch_size * chunk_batches
    for start in range(0, n, span):
        chunk = perm[start : start + span]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def pad_batch(ids: list[np.ndarray], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask) padded on the right to the batch maximum."""
    longest = max(len(x) for x in ids)
    width = -(-longest // PAD_MULTIPLE) * PAD_MULTIPLE
    out = np.full((len(ids), width), pad_id, dtype=np.int64)
    for row, x in enumerate(ids):
        out[row, : len(x)] = x
    input_ids = torch.from_numpy(out)
    return input_ids, (input_ids != pad_id).long()


def iterate(
    data: Encoded, batches: list[np.ndarray], pad_id: int, device: torch.device | str = "cpu"
) -> Iterator[tuple[np.ndarray, torch.Tensor, torch.Tensor, torch.Tensor | None]]:
    """Yield (row indices, input_ids, attention_mask, labels or None) per batch, on `device`."""
    for idx in batches:
        input_ids, attention_mask = pad_batch([data.ids[i] for i in idx], pad_id)
        labels = None if data.labels is None else torch.from_numpy(data.labels[idx])
        yield idx, input_ids.to(device), attention_mask.to(device), None if labels is None else labels.to(device)


class WholeWordMasker:
    """BERT masking (80% [MASK], 10% random, 10% kept) applied to whole words.

    A word is a token not starting with '##' plus the '##' pieces that follow it, so a word is
    either hidden entirely or not at all. Returns the corrupted ids and the boolean mask of
    positions to predict.
    """

    def __init__(self, tokenizer: PreTrainedTokenizerFast, rate: float, whole_word: bool = True):
        self.rate = rate
        self.whole_word = whole_word
        vocab = tokenizer.get_vocab()
        size = len(tokenizer)
        self.mask_id = tokenizer.mask_token_id
        self.special = torch.zeros(size, dtype=torch.bool)
        self.special[tokenizer.all_special_ids] = True
        self.continuation = torch.zeros(size, dtype=torch.bool)
        for token, i in vocab.items():
            if token.startswith("##"):
                self.continuation[i] = True
        self.first_regular = max(tokenizer.all_special_ids) + 1
        self.vocab_size = size

    def __call__(self, input_ids: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Works on input_ids' device; random draws come from the (CPU) generator, so a seed gives
        the same masks on any device."""
        device = input_ids.device
        if self.special.device != device:
            self.special, self.continuation = self.special.to(device), self.continuation.to(device)

        def rand(*shape: int) -> torch.Tensor:
            return torch.rand(*shape, generator=generator).to(device)

        candidates = ~self.special[input_ids]
        if self.whole_word:
            starts = candidates & ~self.continuation[input_ids]
            word = torch.cumsum(starts.long(), dim=1)  # word number of each position (1-based)
            chosen = rand(input_ids.shape[0], input_ids.shape[1] + 1).gather(1, word) < self.rate
        else:
            chosen = rand(*input_ids.shape) < self.rate
        target = chosen & candidates
        corrupted = input_ids.clone()
        action = rand(*input_ids.shape)
        corrupted[target & (action < 0.8)] = self.mask_id
        swap = target & (action >= 0.8) & (action < 0.9)
        corrupted[swap] = torch.randint(
            self.first_regular, self.vocab_size, (int(swap.sum()),), generator=generator
        ).to(device)
        return corrupted, target
