"""Data loading, training and archiving for the NSMC sentiment models."""
