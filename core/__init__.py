"""The ground floor: settings, the model vocabulary, the model store, jobs and the TorchServe client.

Layers (enforced by import-linter, `.importlinter`): handlers <- core <- {train, gateway, deploy} <- bench.
core imports only `handlers` (for artifact names and labels) and third-party libraries.
"""
