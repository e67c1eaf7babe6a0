"""Start, stop and health-check TorchServe and the gateway (`make deploy`, tests, benchmarks)."""
