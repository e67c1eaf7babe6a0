"""Export a Hugging Face sequence classifier to ONNX, dynamically quantized to int8 for ONNX Runtime.

    python -m train.export_onnx models/nsmc_bert /tmp/model.int8.onnx

train/archive.py calls this for every BERT archive; the handler runs it when the archive's model
config says `handler: {runtime: onnx}` (bench/bert_speed.py compares it with eager PyTorch).
"""
from __future__ import annotations

import argparse
import logging
import tempfile
import warnings
from pathlib import Path

log = logging.getLogger(__name__)
OPSET = 17


def export_onnx(model_dir: Path, dest: Path, int8: bool = True) -> Path:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32).eval()
    sample = AutoTokenizer.from_pretrained(model_dir)(["예시 리뷰 입니다", "둘"], padding=True, return_tensors="pt")
    dynamic = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
               "logits": {0: "batch"}}
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter warns about its own deprecation
        fp32 = Path(tmp) / "model.onnx"
        torch.onnx.export(model, (sample["input_ids"], sample["attention_mask"]), str(fp32),
                          input_names=["input_ids", "attention_mask"], output_names=["logits"],
                          dynamic_axes=dynamic, opset_version=OPSET, dynamo=False)
        if int8:
            root = logging.getLogger()
            level, _ = root.level, root.setLevel(max(root.level, logging.WARNING))  # its per-tensor INFO lines
            try:
                quantize_dynamic(str(fp32), str(dest), weight_type=QuantType.QInt8)
            finally:
                root.setLevel(level)
        else:
            fp32.replace(dest)
    log.info("exported %s to %s (%.1f MB)", model_dir, dest, dest.stat().st_size / 1e6)
    return dest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--fp32", action="store_true", help="skip int8 quantization")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    export_onnx(args.model_dir, args.dest, int8=not args.fp32)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
