"""The database's tables (SQLAlchemy Core): what the service remembers about its traffic.

    predictions  every /predict answer item, by request id and index (the prediction log): written
                 off the request path (gateway/prediction_log.py), bounded by age and rows
    feedback     labelled texts: corrections of served predictions ({request_id, index, label}) and
                 new labelled data ({text, label}); what /train learns from beside NSMC

The schema is changed only through migrations (core/migrations/versions/), never created from here.
"""
from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, Column, Float, Index, Integer, MetaData, SmallInteger, String,
                        Table, Text, UniqueConstraint)

metadata = MetaData()

# SQLite's INTEGER PRIMARY KEY is its rowid, which BIGINT is not: a BIGINT key there would never
# autoincrement. PostgreSQL gets BIGINT (a prediction log outgrows INT's 2^31).
Id = BigInteger().with_variant(Integer(), "sqlite")

HASH_CHARS = 64  # sha256, hex
REQUEST_ID_CHARS = 128  # gateway/observability.py accepts ids up to this long
SOURCE_CHARS = 64

predictions = Table(
    "predictions", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("request_id", String(REQUEST_ID_CHARS), nullable=False),
    Column("item", Integer, nullable=False),  # the answer's key: "0", "1", ...
    Column("text_hash", String(HASH_CHARS), nullable=False),
    Column("text", Text),  # null where the prediction_log_texts setting is off
    Column("label", SmallInteger, nullable=False),  # 0 negative, 1 positive (NSMC's)
    Column("confidence", Float, nullable=False),
    Column("model", String(16), nullable=False),
    Column("version", String(32)),
    Column("created_at", Float, nullable=False),  # Unix seconds
    Index("ix_predictions_request", "request_id", "item"),
    Index("ix_predictions_created", "created_at"),
    sqlite_autoincrement=True,  # ids are never reused after a delete
)

feedback = Table(
    "feedback", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # One per stored item: "p:<source>:<request id>:<index>" for a correction, "t:<sha256 of source,
    # text and label>" for a labelled text. Unique, so an item sent twice is stored once.
    Column("dedupe_key", String(2 * REQUEST_ID_CHARS), nullable=False),
    Column("source", String(SOURCE_CHARS), nullable=False),
    Column("text", Text, nullable=False),
    Column("text_hash", String(HASH_CHARS), nullable=False),
    Column("label", SmallInteger, nullable=False),
    Column("request_id", String(REQUEST_ID_CHARS)),  # a correction's prediction, else null
    Column("item", Integer),
    Column("predicted_label", SmallInteger),
    Column("predicted_model", String(16)),
    Column("predicted_version", String(32)),
    Column("created_at", Float, nullable=False),
    # Set by a /train job: the label contradicts every serving model at high confidence; never trained on.
    Column("quarantined", Boolean, nullable=False, default=False),
    UniqueConstraint("dedupe_key", name="uq_feedback_dedupe_key"),
    Index("ix_feedback_request", "request_id"),
    Index("ix_feedback_source", "source"),
    sqlite_autoincrement=True,  # a /train cutoff and export pages rely on ids that only grow
)
