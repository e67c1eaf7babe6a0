"""python -m sentiment_client score INPUT: score a TSV/CSV/JSONL file of reviews through the gateway.
python -m sentiment_client feedback INPUT: send a file of labelled reviews (or corrections of served
predictions) to POST /feedback.
(Installed with `pip install ./sentiment_client`, the same is `sentiment-client score INPUT`.)

Rows go out in batches on a few threads and come back in input order, one output row per input row.
A row that cannot be scored (no text, blank text, malformed JSON, rejected by the server) gets an
`error` instead of a label and is reported on stderr; the rest still complete. Exit code: 0 when
every row was scored, 1 when some failed, 2 on usage errors (bad options, unreadable input).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from tqdm import tqdm

from sentiment_client import __version__
from sentiment_client.client import DEFAULT_BATCH, MODES, SentimentClient, SentimentError

MAX_BATCH = 64  # the server's limit of texts per request
FALLBACK_COLUMN = "text"
OUTPUT_FIELDS = ("line", "text", "label", "confidence", "model", "error")
REJECTED = frozenset({400, 413})  # the input's fault: worth re-sending text by text
ERRORS_LISTED = 100  # per-row reports on stderr; all failures are in the output anyway


class UsageError(Exception):
    pass


@dataclass
class Row:
    line: int
    text: Optional[str] = None
    error: Optional[str] = None  # set when the row is not sent, or failed
    result: Optional[dict] = None


# ---- input ---------------------------------------------------------------------------------------


@dataclass
class Record:
    """One input row as fields by column name, or why it could not be read."""

    line: int
    fields: dict
    error: Optional[str] = None


def read_records(path: Path) -> tuple[Optional[list[str]], list[Record]]:
    """A TSV/CSV file's header and rows, or a JSONL file's objects (header None)."""
    readers = {".tsv": read_tsv, ".txt": read_tsv, ".csv": read_csv, ".jsonl": read_jsonl}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise UsageError(f"{path}: unknown input type; expected one of {', '.join(readers)}")
    return reader(path)


def read_tsv(path: Path) -> tuple[list[str], list[Record]]:
    # NSMC's files are plain tab-separated lines whose reviews contain bare quotes: no quoting.
    return read_delimited(path, delimiter="\t", quoting=csv.QUOTE_NONE)


def read_csv(path: Path) -> tuple[list[str], list[Record]]:
    return read_delimited(path)


def read_delimited(path: Path, **csv_options) -> tuple[list[str], list[Record]]:
    with open(path, newline="", encoding="utf-8-sig") as stream:
        reader = csv.reader(stream, **csv_options)
        header = next(reader, None) or []
        records, first_line = [], reader.line_num + 1
        for fields in reader:
            records.append(Record(first_line, dict(zip(header, fields))))
            first_line = reader.line_num + 1  # a quoted CSV field may span lines
    return header, records


def read_jsonl(path: Path) -> tuple[None, list[Record]]:
    with open(path, encoding="utf-8-sig") as stream:
        return None, [json_record(number, line) for number, line in enumerate(stream, 1)]


def json_record(number: int, line: str) -> Record:
    try:
        item = json.loads(line)
    except ValueError as exc:
        return Record(number, {}, f"malformed JSON: {exc}")
    return Record(number, item) if isinstance(item, dict) else Record(number, {}, "not a JSON object")


def read_rows(path: Path, text_column: str) -> list[Row]:
    header, records = read_records(path)
    if header is not None and pick_column(header, text_column) is None:
        raise UsageError(f"{path}: the header has no '{text_column}' or '{FALLBACK_COLUMN}' column")
    return [Row(r.line, error=r.error) if r.error else row_of(r.line, text_of(r.fields, text_column))
            for r in records]


def text_of(fields: dict, text_column: str):
    column = pick_column(fields, text_column)
    return fields[column] if column else None


def pick_column(names: Iterable[str], wanted: str) -> Optional[str]:
    names = set(names)
    return next((name for name in (wanted, FALLBACK_COLUMN) if name in names), None)


def row_of(line: int, text) -> Row:
    if text is None:
        return Row(line, error="missing text")
    if not isinstance(text, str):
        return Row(line, error=f"text is a {type(text).__name__}, not a string")
    if not text.strip():
        return Row(line, text, error="blank text")
    return Row(line, text)


# ---- feedback ------------------------------------------------------------------------------------

FEEDBACK_BATCH = 500  # items per POST /feedback (the server takes up to 1000)
FEEDBACK_BATCH_BYTES = 1_000_000  # and at most about this much JSON, under the server's body limit
LABEL_VALUES = {"0": 0, "1": 1, "negative": "negative", "positive": "positive"}


def feedback_item(record: Record, text_column: str) -> tuple[Optional[dict], Optional[str]]:
    """The POST /feedback item of one input row, or why there is none: {request_id, index, label}
    where the row has a request_id, else {text, label}; an optional `source` column is kept."""
    if record.error:
        return None, record.error
    fields = record.fields
    label = LABEL_VALUES.get(str(fields.get("label", "")).strip().lower())
    if label is None:
        return None, f"label must be 0, 1, negative or positive, not {fields.get('label')!r}"
    item: dict = {"label": label}
    if fields.get("request_id"):
        index = str(fields.get("index", "")).strip()
        if not index.isdigit():
            return None, f"index must be the answer item's number, not {fields.get('index')!r}"
        item.update(request_id=str(fields["request_id"]), index=int(index))
    else:
        row = row_of(record.line, text_of(fields, text_column))
        if row.error:
            return None, row.error
        item["text"] = row.text
    if fields.get("source"):
        item["source"] = str(fields["source"])
    return item, None


def feedback_batches(items: list[tuple[int, dict]], size: int) -> Iterator[list[tuple[int, dict]]]:
    batch, weight = [], 0
    for line, item in items:
        item_bytes = len(json.dumps(item, ensure_ascii=False).encode())
        if batch and (len(batch) == size or weight + item_bytes > FEEDBACK_BATCH_BYTES):
            yield batch
            batch, weight = [], 0
        batch.append((line, item))
        weight += item_bytes
    if batch:
        yield batch


def feedback_command(args: argparse.Namespace) -> int:
    header, records = read_records(args.input)
    if header is not None and "label" not in header:
        raise UsageError(f"{args.input}: the header has no 'label' column")
    started, counts, errors = time.monotonic(), {"stored": 0, "duplicate": 0, "error": 0}, []
    items = []
    for record in records:
        item, error = feedback_item(record, args.text_column)
        if error:
            errors.append((record.line, error))
        else:
            items.append((record.line, item))
    with SentimentClient(args.url, timeout=args.timeout, retries=args.retries, token=args.token) as client, \
            tqdm(total=len(records), unit="row", file=sys.stderr) as bar:
        bar.update(len(errors))
        for batch in feedback_batches(items, args.batch_size):
            try:
                answer = client.feedback([item for _, item in batch], args.source)
                outcomes = answer["items"]
            except SentimentError as exc:
                if exc.status in (401, 403):
                    raise UsageError(f"{exc} (pass the feedback token with --token or $SENTIMENT_FEEDBACK_TOKEN)")
                outcomes = [{"status": "error", "message": str(exc)}] * len(batch)
            for (line, _), outcome in zip(batch, outcomes):
                if outcome["status"] == "error":
                    errors.append((line, outcome.get("message", outcome.get("code"))))
                else:
                    counts[outcome["status"]] += 1
            bar.update(len(batch))
    for line, error in sorted(errors)[:ERRORS_LISTED]:
        print(f"line {line}: {error}", file=sys.stderr)
    seconds = time.monotonic() - started
    print(f"feedback: {counts['stored']} stored, {counts['duplicate']} already there, {len(errors)} failed, "
          f"in {seconds:.1f} s ({(counts['stored'] + counts['duplicate']) / max(seconds, 1e-9):.0f} rows/s)",
          file=sys.stderr)
    return 1 if errors else 0


def batches(rows: list[Row], size: int) -> Iterator[list[Row]]:
    """Consecutive rows with at most `size` sendable ones; bad rows ride along unsent, in place."""
    batch: list[Row] = []
    sendable = 0
    for row in rows:
        batch.append(row)
        sendable += row.error is None
        if sendable == size:
            yield batch
            batch, sendable = [], 0
    if batch:
        yield batch


# ---- scoring -------------------------------------------------------------------------------------


class Scorer:
    def __init__(self, client: SentimentClient, mode: str):
        self.client, self.mode = client, mode
        # A failure that is not the input's fault (server down after retries, wrong URL, ...) would
        # fail every later batch too, slowly: once there is one, later batches are not sent.
        self.fatal: Optional[SentimentError] = None

    def score(self, batch: list[Row]) -> list[Row]:
        rows = [row for row in batch if row.error is None]
        if rows and self.fatal:
            fail(rows, f"not sent after an earlier failure: {self.fatal}")
        elif rows:
            self._send(rows)
        return batch

    def _send(self, rows: list[Row]) -> None:
        try:
            results = self.client.predict([row.text for row in rows], self.mode)
        except SentimentError as exc:
            if exc.status in REJECTED and len(rows) > 1:
                for row in rows:  # so that only the bad texts fail
                    self._send([row])
                return
            if exc.status not in REJECTED:
                self.fatal = exc
            fail(rows, str(exc))
            return
        for row, result in zip(rows, results):
            row.result = result


def fail(rows: list[Row], error: str) -> None:
    for row in rows:
        row.error = error


# ---- output --------------------------------------------------------------------------------------


def record(row: Row) -> dict:
    out = {"line": row.line, "text": row.text}
    if row.error is not None:
        out["error"] = row.error
    else:
        out.update((key, row.result[key]) for key in ("label", "confidence", "model") if key in row.result)
    return out


def record_writer(stream, output_format: str) -> Callable[[dict], object]:
    if output_format == "csv":
        writer = csv.DictWriter(stream, OUTPUT_FIELDS, lineterminator="\n")
        writer.writeheader()
        return writer.writerow
    return lambda item: stream.write(json.dumps(item, ensure_ascii=False) + "\n")


def open_output(path: Optional[str]):
    if path in (None, "-"):
        return sys.stdout
    return open(path, "w", newline="", encoding="utf-8")


# ---- command line --------------------------------------------------------------------------------


def bounded_int(low: int, high: Optional[int] = None) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if number < low or (high is not None and number > high):
            raise argparse.ArgumentTypeError(f"must be {low}..{high}" if high else f"must be >= {low}")
        return number
    parse.__name__ = "int"  # argparse names it in "invalid int value"
    return parse


def http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected http://host:port, not {value!r}")
    return value


def build_parser(prog: str = "python -m sentiment_client") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog,
                                     description="Score Korean movie reviews through the sentiment gateway.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    score = commands.add_parser("score", help="score a file of reviews",
                                description="Score every row of INPUT (.tsv/.txt or .csv with a header row, "
                                            "or .jsonl); write one output row per input row, in input order.")
    score.add_argument("input", type=Path, metavar="INPUT")
    score.add_argument("-o", "--output", help="output file; '-' or none: stdout")
    score.add_argument("--url", type=http_url, default="http://127.0.0.1:5000", help="the gateway (default: %(default)s)")
    score.add_argument("--mode", choices=list(MODES), default="fast", help="model choice (default: %(default)s)")
    score.add_argument("--batch-size", type=bounded_int(1, MAX_BATCH), default=DEFAULT_BATCH,
                       help=f"reviews per request, 1..{MAX_BATCH} (default: %(default)s)")
    score.add_argument("--concurrency", type=bounded_int(1), default=4,
                       help="requests in flight (default: %(default)s)")
    score.add_argument("--text-column", default="document",
                       help=f"column or JSON field with the review (default: %(default)s, "
                            f"else '{FALLBACK_COLUMN}')")
    score.add_argument("--format", choices=("jsonl", "csv"),
                       help="output format (default: csv if OUTPUT ends in .csv, else jsonl)")
    score.add_argument("--timeout", type=float, default=30, help="seconds per request (default: %(default)s)")
    score.add_argument("--retries", type=bounded_int(0), default=3,
                       help="retries on 503/504/no connection, with exponential backoff (default: %(default)s)")
    feedback = commands.add_parser(
        "feedback", help="send a file of labelled reviews to POST /feedback",
        description="Send every row of INPUT (.tsv/.txt or .csv with a header row, or .jsonl) as feedback: "
                    "a 'label' (0/1 or negative/positive) with the review's text, or with the request_id and "
                    "index of a served prediction; an optional 'source' column. Rows already sent are "
                    "stored once.")
    feedback.add_argument("input", type=Path, metavar="INPUT")
    feedback.add_argument("--url", type=http_url, default="http://127.0.0.1:5000",
                          help="the gateway (default: %(default)s)")
    feedback.add_argument("--token", default=os.environ.get("SENTIMENT_FEEDBACK_TOKEN"),
                          help="the feedback token (default: $SENTIMENT_FEEDBACK_TOKEN)")
    feedback.add_argument("--source", help="who labelled the rows (default: the server's, 'api')")
    feedback.add_argument("--text-column", default="document",
                          help=f"column or JSON field with the review (default: %(default)s, else '{FALLBACK_COLUMN}')")
    feedback.add_argument("--batch-size", type=bounded_int(1, 1000), default=FEEDBACK_BATCH,
                          help="items per request (default: %(default)s)")
    feedback.add_argument("--timeout", type=float, default=60, help="seconds per request (default: %(default)s)")
    feedback.add_argument("--retries", type=bounded_int(0), default=5,
                          help="retries on 429/503/504/no connection (default: %(default)s)")
    return parser


def score_command(args: argparse.Namespace, rows: list[Row], write: Callable[[dict], object]) -> int:
    started, failed = time.monotonic(), 0
    with SentimentClient(args.url, timeout=args.timeout, retries=args.retries,
                         pool_size=args.concurrency) as client:
        scorer, pool = Scorer(client, args.mode), ThreadPoolExecutor(args.concurrency)
        try:
            with tqdm(total=len(rows), unit="review", file=sys.stderr) as bar:
                # map yields batches in input order, whichever finishes first
                for batch in pool.map(scorer.score, batches(rows, args.batch_size)):
                    for row in batch:
                        failed += row.error is not None
                        if row.error is not None and failed <= ERRORS_LISTED:
                            bar.write(f"line {row.line}: {row.error}", file=sys.stderr)
                        write(record(row))
                    bar.update(len(batch))
        finally:
            pool.shutdown(cancel_futures=True)  # on Ctrl-C, do not send what is still queued
    print_summary(len(rows) - failed, failed, time.monotonic() - started)
    return 1 if failed else 0


def print_summary(scored: int, failed: int, seconds: float) -> None:
    more = f" (the first {ERRORS_LISTED} listed above; all have an 'error' in the output)" \
        if failed > ERRORS_LISTED else ""
    print(f"scored {scored} rows, {failed} failed{more}, in {seconds:.1f} s "
          f"({scored / max(seconds, 1e-9):.0f} reviews/s)", file=sys.stderr)


def main(argv: Optional[list[str]] = None, prog: str = "python -m sentiment_client") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.command == "feedback":
        try:
            return feedback_command(args)
        except (OSError, UnicodeDecodeError, csv.Error, UsageError) as exc:
            parser.error(str(exc))
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    output_format = args.format or ("csv" if (args.output or "").lower().endswith(".csv") else "jsonl")
    try:
        rows = read_rows(args.input, args.text_column)
        output = open_output(args.output)
    except (OSError, UnicodeDecodeError, csv.Error, UsageError) as exc:
        parser.error(str(exc))
    try:
        return score_command(args, rows, record_writer(output, output_format))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if output is not sys.stdout:
            output.close()


def command() -> int:
    """The installed `sentiment-client` command (sentiment_client/pyproject.toml)."""
    return main(prog="sentiment-client")


if __name__ == "__main__":
    sys.exit(main())
