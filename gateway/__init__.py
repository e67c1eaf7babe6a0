"""Flask gateway in front of TorchServe."""
