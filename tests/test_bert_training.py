"""train.bert end to end on a small NSMC subset: a saved MLM run can be fine-tuned again with --from-mlm."""
from __future__ import annotations

import json

import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer

from train.bert.__main__ import main

TINY = ["--train-limit", "1500", "--test-limit", "300", "--vocab-size", "2000", "--hidden", "64",
        "--layers", "1", "--heads", "2", "--intermediate", "128", "--threads", "1"]
EMBEDDINGS = "bert.embeddings.word_embeddings.weight"


def test_from_mlm_reuses_the_saved_tokenizer_and_encoder(tmp_path, nsmc_dir):
    mlm_dir, first, second = tmp_path / "mlm", tmp_path / "first", tmp_path / "second"
    data = ["--data-dir", str(nsmc_dir)]
    assert main(TINY + data + ["--mlm-epochs", "1", "--epochs", "0.2", "--out", str(first),
                               "--save-mlm", str(mlm_dir)]) == 0
    # Another seed, so that a freshly initialised encoder could not pass for the saved one.
    assert main(TINY + data + ["--epochs", "0.2", "--out", str(second), "--from-mlm", str(mlm_dir),
                               "--seed", "7"]) == 0

    saved_vocab = AutoTokenizer.from_pretrained(mlm_dir, local_files_only=True).get_vocab()
    assert AutoTokenizer.from_pretrained(second, local_files_only=True).get_vocab() == saved_vocab
    pretrained = load_file(mlm_dir / "model.safetensors")[EMBEDDINGS]
    fine_tuned = load_file(second / "model.safetensors")[EMBEDDINGS].float()
    # A few fine-tuning steps move the embeddings a little; a fresh initialisation would be unrelated.
    assert torch.corrcoef(torch.stack([pretrained.flatten(), fine_tuned.flatten()]))[0, 1] > 0.95
    metrics = json.loads((second / "metrics.json").read_text())
    assert metrics["mlm"]["summary"] == {"from": str(mlm_dir)}
