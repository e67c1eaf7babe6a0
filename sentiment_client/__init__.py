"""A small client for the sentiment gateway's HTTP API, and a CLI that scores a file of reviews.

Standalone on purpose: it needs only `requests` (and `tqdm` for the CLI), never the service's packages.
"""
from sentiment_client.client import DEFAULT_BATCH, MODES, SentimentClient, SentimentError

__all__ = ["DEFAULT_BATCH", "MODES", "SentimentClient", "SentimentError"]
