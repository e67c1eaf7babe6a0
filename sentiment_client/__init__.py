"""A small client for the sentiment gateway's HTTP API, and a CLI that scores a file of reviews.

Standalone on purpose: it needs only `requests` (and `tqdm` for the CLI), never the service's packages.
Installable on its own (sentiment_client/pyproject.toml): `pip install ./sentiment_client` gives the
`sentiment-client` command (`sentiment-client score INPUT`); from a checkout, `python -m sentiment_client`.
"""
from sentiment_client.client import DEFAULT_BATCH, MODES, SentimentClient, SentimentError

# The project's version, for the service and the client alike: written here only (both pyproject.toml
# files read it; the client's distribution cannot reach a file outside its own directory).
__version__ = "0.10.0"

__all__ = ["__version__", "DEFAULT_BATCH", "MODES", "SentimentClient", "SentimentError"]
