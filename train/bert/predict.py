"""Batched, length-sorted inference: positive-class probabilities in the input order."""
from __future__ import annotations

import numpy as np
import torch

from train.bert.batching import Encoded, bucketed_batches, iterate
from train.bert.modeling import autocast


@torch.inference_mode()
def positive_probs(model, data: Encoded, pad_id: int, precision: str = "fp32", batch_size: int = 256,
                   device: torch.device | str | None = None) -> np.ndarray:
    """P(positive) for every row of data, in data's order (batches are sorted by length).
    Runs where the model is unless `device` says otherwise."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = np.empty(len(data), dtype=np.float32)
    for idx, ids, mask, _ in iterate(data, bucketed_batches(data.lengths, batch_size, shuffle=False), pad_id, device):
        with autocast(precision, device):
            logits = model(input_ids=ids, attention_mask=mask).logits
        out[idx] = torch.softmax(logits.float(), dim=-1)[:, 1].cpu().numpy()
    model.train(was_training)
    return out


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(((probs >= 0.5).astype(np.int64) == labels).mean())


def log_loss(probs: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(probs.astype(np.float64), 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))
