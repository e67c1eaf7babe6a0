"""TorchServe handlers for the NSMC sentiment service (also imported by training code)."""
