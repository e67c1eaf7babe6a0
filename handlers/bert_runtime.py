"""How the BERT handler gets logits: eager PyTorch, or ONNX Runtime on the archive's int8 export.

A module of its own because TorchServe wants exactly one class in a handler module.
"""
import os

import numpy as np
import torch


class TorchLogits:
    """Logits from the Hugging Face model, on the device TorchServe assigned."""

    def __init__(self, model, device: torch.device):
        self.model, self.device = model, device

    @torch.inference_mode()
    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.model(input_ids=torch.from_numpy(input_ids).to(self.device),
                          attention_mask=torch.from_numpy(attention_mask).to(self.device)).logits.float().cpu().numpy()


class OnnxLogits:
    """Logits from ONNX Runtime (CPU) on an exported model."""

    def __init__(self, path: str, threads: int | None = None):
        import onnxruntime

        if not os.path.exists(path):
            raise FileNotFoundError(f"runtime 'onnx' needs {os.path.basename(path)} in the archive "
                                    f"(rebuild it with `make archive`)")
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.session.run(["logits"], {"input_ids": input_ids, "attention_mask": attention_mask})[0]


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)
