"""The service's wall clock, as written into status files and job records."""
from __future__ import annotations

from datetime import datetime, timezone


def now() -> str:
    """The current UTC time, ISO 8601 to the second (e.g. 2024-05-01T12:00:00+00:00)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
