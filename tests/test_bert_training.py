"""train.bert end to end on a small NSMC subset: --save-mlm, --from-mlm (fine-tune again), --resume-mlm, --device."""
from __future__ import annotations

import json

import pytest
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


def test_resume_mlm_continues_pretraining_from_the_saved_encoder(tmp_path, nsmc_dir):
    mlm_dir, first, second = tmp_path / "mlm", tmp_path / "first", tmp_path / "second"
    data = ["--data-dir", str(nsmc_dir)]
    assert main(TINY + data + ["--mlm-epochs", "1", "--epochs", "0.1", "--out", str(first),
                               "--save-mlm", str(mlm_dir)]) == 0
    assert main(TINY + data + ["--mlm-epochs", "1", "--epochs", "0.1", "--out", str(second),
                               "--from-mlm", str(mlm_dir), "--resume-mlm"]) == 0

    summary = json.loads((second / "metrics.json").read_text())["mlm"]["summary"]
    assert summary["from"] == str(mlm_dir)
    assert summary["steps"] > 0 and summary["held_out"]  # a second pretraining stage ran
    # It started from the saved encoder, so its first held-out pass beats the first run's.
    first_run = json.loads((first / "metrics.json").read_text())["mlm"]["summary"]["held_out"]
    assert summary["held_out"][0]["loss"] < first_run[0]["loss"]


def test_resume_mlm_needs_from_mlm(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--resume-mlm", "--out", str(tmp_path / "x")])
    assert "--resume-mlm needs --from-mlm" in capsys.readouterr().err


def test_device_choice_falls_back_to_the_cpu_and_refuses_a_missing_gpu():
    from train.bert import runtime

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible")
    assert runtime.choose_device("auto") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        runtime.choose_device("cuda")
    assert runtime.choose_precision("auto", torch.device("cuda")) == "bf16"


@pytest.mark.parametrize("device", ["tpu", "cuda"])
def test_an_unusable_device_is_a_usage_error(tmp_path, capsys, device):
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible")
    with pytest.raises(SystemExit):
        main(["--device", device, "--out", str(tmp_path / "x")])
    assert f"--device {device}:" in capsys.readouterr().err
