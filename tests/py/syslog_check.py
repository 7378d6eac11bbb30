"""Checks the syslog messages a receiver wrote, one per line.

Usage: syslog_check.py RECEIVED_FILE

Each line must be one complete RFC 5424 message as Cairn sent it (rsyslog
writes `%rawmsg%`): strict UTF-8, accepted by the strict parser of
`syslog-rfc5424-parser`, with the `cairn@32473` structured-data element
(`seq`, `id`) and, after an optional UTF-8 BOM, a JSON object as MSG (the
OCSF event).

Prints one JSON object on stdout:
  messages          number of lines
  invalid           1-based numbers of the lines that fail any check
  seqs              the `seq` of every valid message, sorted, duplicates kept
  ids               the `id` of every valid message, in file order
  timestamps_match  every valid message's syslog TIMESTAMP equals the OCSF
                    `time` of its MSG (milliseconds since the epoch) at
                    millisecond precision
The reason for each invalid line goes to stderr. Exits 1 when a line is
invalid.
"""

import datetime
import json
import re
import sys

from syslog_rfc5424_parser import ParseError, SyslogMessage

SD_ID = "cairn@32473"
BOM = "\ufeff"
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def unescape_param(raw):
    """A PARAM-VALUE as the parser returns it (escapes kept), decoded per
    RFC 5424 section 6.3.3: only \\", \\\\ and \\] are escapes."""
    return re.sub(r'\\(["\\\]])', r"\1", raw)


def millis_of(timestamp):
    """An RFC 5424 TIMESTAMP as milliseconds since the epoch (floor)."""
    parsed = datetime.datetime.fromisoformat(timestamp)
    if parsed.tzinfo is None:
        raise ValueError("timestamp without offset")
    return (parsed - EPOCH) // datetime.timedelta(milliseconds=1)


def check(raw_line):
    """Returns (seq, id, timestamp_matches) or raises ValueError."""
    try:
        text = raw_line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8: {error}") from None
    if any(ch in text for ch in "\r\0"):
        raise ValueError("CR or NUL inside the line")
    try:
        message = SyslogMessage.parse(text)
    except ParseError as error:
        raise ValueError(f"rejected by the RFC 5424 parser: {error.description}") from None
    if message.version != 1:
        raise ValueError(f"version {message.version}")
    element = message.sd.get(SD_ID)
    if element is None:
        raise ValueError(f"no {SD_ID} structured data")
    seq_text = unescape_param(element.get("seq", ""))
    if not re.fullmatch(r"[0-9]+", seq_text):
        raise ValueError(f"bad seq {seq_text!r}")
    event_id = unescape_param(element.get("id", ""))
    if not event_id:
        raise ValueError("no id")
    body = message.msg or ""
    if body.startswith(BOM):
        body = body[len(BOM):]
    try:
        event = json.loads(body)
    except ValueError as error:
        raise ValueError(f"MSG is not JSON: {error}") from None
    if not isinstance(event, dict):
        raise ValueError("MSG is not a JSON object")
    event_time = event.get("time")
    matches = (
        message.timestamp != "-"
        and isinstance(event_time, int)
        and not isinstance(event_time, bool)
        and millis_of(message.timestamp) == event_time
    )
    return int(seq_text), event_id, matches


def main():
    if len(sys.argv) != 2:
        print("usage: syslog_check.py RECEIVED_FILE", file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as handle:
        data = handle.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    invalid, seqs, ids = [], [], []
    timestamps_match = True
    for number, raw_line in enumerate(lines, start=1):
        try:
            seq, event_id, matches = check(raw_line)
        except ValueError as error:
            invalid.append(number)
            print(f"line {number}: {error}", file=sys.stderr)
            continue
        seqs.append(seq)
        ids.append(event_id)
        timestamps_match = timestamps_match and matches
    print(
        json.dumps(
            {
                "messages": len(lines),
                "invalid": invalid,
                "seqs": sorted(seqs),
                "ids": ids,
                "timestamps_match": timestamps_match,
            }
        )
    )
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
