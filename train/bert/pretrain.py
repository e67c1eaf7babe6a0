"""Masked-LM pretraining of a compact BertForMaskedLM on cleaned NSMC train text."""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from transformers import BertForMaskedLM, PreTrainedTokenizerFast

from train.bert.batching import Encoded, WholeWordMasker, bucketed_batches, iterate
from train.bert.modeling import OptimizerRecipe, adamw, autocast
from train.bert.runtime import ThreadTuner, TimedSchedule, progress

log = logging.getLogger(__name__)


@dataclass
class MLMRecipe(OptimizerRecipe):
    epochs: float = 2.0
    lr: float = 5e-4
    warmup: float = 0.08
    mask_rate: float = 0.2
    whole_word: bool = True


def mlm_loss(
    model: BertForMaskedLM, input_ids: torch.Tensor, attention_mask: torch.Tensor,
    masker: WholeWordMasker, generator: torch.Generator,
) -> tuple[torch.Tensor, int, int]:
    """Loss over the masked positions only: the vocabulary projection (as costly as the whole
    encoder at hidden 256 / vocab 10k) is applied to ~20% of the tokens instead of all of them."""
    corrupted, target = masker(input_ids, generator)
    hidden = model.bert(input_ids=corrupted, attention_mask=attention_mask).last_hidden_state
    logits = model.cls(hidden[target]).float()
    gold = input_ids[target]
    n = int(gold.numel())
    if n == 0:
        return hidden.sum() * 0.0, 0, 0
    loss = F.cross_entropy(logits, gold)
    correct = int((logits.argmax(-1) == gold).sum())
    return loss, n, correct


@torch.inference_mode()
def mlm_eval(model, data: Encoded, masker: WholeWordMasker, pad_id: int, precision: str, batch_size: int = 256,
             device: torch.device | str = "cpu"):
    """Masked-token loss/accuracy on held-out text with a fixed masking seed."""
    model.eval()
    gen = torch.Generator().manual_seed(1234)
    total_loss, total_n, total_correct = 0.0, 0, 0
    for _, ids, mask, _ in iterate(data, bucketed_batches(data.lengths, batch_size, shuffle=False), pad_id, device):
        with autocast(precision, device):
            loss, n, correct = mlm_loss(model, ids, mask, masker, gen)
        total_loss += loss.item() * n
        total_n += n
        total_correct += correct
    model.train()
    return {"loss": total_loss / max(total_n, 1), "accuracy": total_correct / max(total_n, 1)}


def pretrain(
    model: BertForMaskedLM,
    tokenizer: PreTrainedTokenizerFast,
    train: Encoded,
    held_out: Encoded,
    recipe: MLMRecipe,
    precision: str,
    tuner: ThreadTuner,
    seed: int,
    device: torch.device | str = "cpu",
) -> dict:
    """Train in place (model already on `device`); returns a summary (steps, tokens/s, held-out MLM loss/accuracy, seconds)."""
    pad_id = tokenizer.pad_token_id
    masker = WholeWordMasker(tokenizer, recipe.mask_rate, recipe.whole_word)
    steps_per_epoch = math.ceil(len(train) / recipe.batch_size)
    total_steps = max(1, math.ceil(recipe.epochs * steps_per_epoch))
    optimizer = adamw(model, recipe.lr, recipe.weight_decay)
    schedule = TimedSchedule(
        optimizer, total_steps, recipe.warmup, recipe.max_minutes * 60 if recipe.max_minutes else None
    )
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    log.info(
        "MLM: %d texts, %d steps (%.2f epochs x %d) of %d, peak lr %g, mask %.0f%% (%s), %s, cap %s min",
        len(train), total_steps, recipe.epochs, steps_per_epoch, recipe.batch_size, recipe.lr,
        100 * recipe.mask_rate, "whole words" if recipe.whole_word else "tokens", precision, recipe.max_minutes,
    )
    model.train()
    started = time.perf_counter()
    tokens_seen, ema_loss, ema_acc = 0, None, None
    history = []
    bar = progress(total_steps, "mlm")
    tuner.start()
    epoch = 0
    while not schedule.done:
        batches = bucketed_batches(train.lengths, recipe.batch_size, shuffle=True, rng=rng)
        for _, ids, mask, _ in iterate(train, batches, pad_id, device):
            with autocast(precision, device):
                loss, n, correct = mlm_loss(model, ids, mask, masker, gen)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            schedule.step()
            real_tokens = int(mask.sum())
            tokens_seen += real_tokens
            tuner.record(real_tokens)
            acc = correct / max(n, 1)
            ema_loss = loss.item() if ema_loss is None else 0.98 * ema_loss + 0.02 * loss.item()
            ema_acc = acc if ema_acc is None else 0.98 * ema_acc + 0.02 * acc
            bar.update(1)
            if schedule.step_no % 50 == 0:
                rate = tokens_seen / (time.perf_counter() - started)
                bar.set_postfix(loss=f"{ema_loss:.3f}", acc=f"{ema_acc:.3f}", lr=f"{schedule.lr:.2e}",
                                tok_s=f"{rate:.0f}", thr=tuner.threads, refresh=False)
            if schedule.step_no % 500 == 0:
                elapsed = time.perf_counter() - started
                p = schedule.progress
                log.info(
                    "mlm step %d/%d  loss %.3f  masked-acc %.3f  lr %.2e  %.0f tokens/s  %.1f reviews/s  "
                    "threads %d  elapsed %.1f min  ETA %.1f min",
                    schedule.step_no, total_steps, ema_loss, ema_acc, schedule.lr,
                    tokens_seen / elapsed, schedule.step_no * recipe.batch_size / elapsed,
                    tuner.threads, elapsed / 60, elapsed * (1 - p) / max(p, 1e-9) / 60,
                )
            if schedule.done:
                break
        epoch += 1
        held = mlm_eval(model, held_out, masker, pad_id, precision, device=device)
        history.append({"epoch": epoch, "step": schedule.step_no, **held})
        log.info("mlm pass %d done at step %d: held-out masked loss %.3f, accuracy %.3f",
                 epoch, schedule.step_no, held["loss"], held["accuracy"])
    bar.close()
    seconds = time.perf_counter() - started
    if schedule.time_bound:
        log.warning("MLM stopped by its %.1f-minute cap at step %d of %d", recipe.max_minutes, schedule.step_no, total_steps)
    return {
        "steps": schedule.step_no,
        "planned_steps": total_steps,
        "epochs_done": schedule.step_no / steps_per_epoch,
        "time_capped": schedule.time_bound,
        "tokens_per_s": tokens_seen / seconds,
        "reviews_per_s": schedule.step_no * recipe.batch_size / seconds,
        "final_train_loss_ema": ema_loss,
        "held_out": history,
        "seconds": seconds,
    }
