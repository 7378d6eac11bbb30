"""Checks a file of CEF records, one per line, as Cairn writes them.

Usage: cef_check.py CEF_FILE

Each line is read twice: by `pycef` (what many collectors do) and by the
strict parser below (the CEF specification read to the letter: "CEF:0"
then exactly seven unescaped `|` end the header, whose only escapes are
`\\\\` and `\\|`; then `key=value` pairs separated by one space, keys
`[A-Za-z0-9_]+`, no raw `=` in a value, escapes `\\\\`, `\\=`, `\\n`, `\\r`
only; no control character anywhere; no duplicate key). A line is valid
when both accept it, they agree on every field, and it carries the event's
sequence number (`cn1Label=seq cn1=<digits>`).

Prints one JSON object on stdout:
  records  number of lines
  invalid  1-based numbers of the lines that fail any check
  seqs     the seq of every valid record, sorted, duplicates kept
The reason for each invalid line goes to stderr. Exits 1 when a line is
invalid.
"""

import json
import re
import sys
import unicodedata

import pycef

HEADER_NAMES = [
    "CEFVersion",
    "DeviceVendor",
    "DeviceProduct",
    "DeviceVersion",
    "DeviceEventClassID",
    "Name",
    "Severity",
]
KEY_AT = re.compile(r"[A-Za-z0-9_]+=")
EXTENSION_ESCAPES = {"\\": "\\", "=": "=", "n": "\n", "r": "\r"}


def is_hazard(ch):
    """Control characters (C0, DEL, C1) and the Unicode line and paragraph
    separators: none may appear raw in a record."""
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def parse_strict(record):
    """Returns (header fields, extension dict) or raises ValueError."""
    bad = next((ch for ch in record if is_hazard(ch)), None)
    if bad is not None:
        raise ValueError(f"raw control character {bad!r}")
    header, field, at = [], [], 0
    while len(header) < 7:
        if at >= len(record):
            raise ValueError("fewer than 7 header separators")
        ch = record[at]
        if ch == "\\":
            escaped = record[at + 1 : at + 2]
            if escaped not in ("\\", "|"):
                raise ValueError(f"bad header escape \\{escaped}")
            field.append(escaped)
            at += 2
        elif ch == "|":
            header.append("".join(field))
            field = []
            at += 1
        else:
            field.append(ch)
            at += 1
    if header[0] != "CEF:0":
        raise ValueError(f"not CEF:0: {header[0]!r}")
    return header, parse_extension(record[at:])


def parse_extension(text):
    pairs, at = {}, 0
    while at < len(text):
        key_match = KEY_AT.match(text, at)
        if key_match is None:
            raise ValueError(f"no key at extension offset {at}")
        key = key_match.group()[:-1]
        at = key_match.end()
        value = []
        while at < len(text):
            ch = text[at]
            if ch == "\\":
                escaped = text[at + 1 : at + 2]
                if escaped not in EXTENSION_ESCAPES:
                    raise ValueError(f"bad extension escape \\{escaped} in {key}")
                value.append(EXTENSION_ESCAPES[escaped])
                at += 2
            elif ch == "=":
                raise ValueError(f"raw '=' in the value of {key}")
            elif ch == " " and KEY_AT.match(text, at + 1):
                at += 1
                break
            else:
                value.append(ch)
                at += 1
        if key in pairs:
            raise ValueError(f"duplicate key {key}")
        pairs[key] = "".join(value)
    return pairs


def unescape_extension(raw):
    """A pycef value (it does not unescape) decoded like the strict parser."""
    return re.sub(r"\\(.)", lambda m: EXTENSION_ESCAPES.get(m.group(1), m.group(0)), raw)


def unescape_header(raw):
    return re.sub(r"\\([\\|])", r"\1", raw)


def apply_labels(pairs):
    """Names custom fields by their labels, as pycef does:
    `cn1Label=seq cn1=42` becomes `seq=42`."""
    named = dict(pairs)
    for key in list(pairs):
        if key.endswith("Label") and key[:-5] in pairs:
            named[pairs[key]] = pairs[key[:-5]]
            del named[key[:-5]]
            del named[key]
    return named


def check(raw_line):
    """Returns the record's seq or raises ValueError."""
    try:
        record = raw_line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8: {error}") from None
    header, extension = parse_strict(record)
    lenient = pycef.parse(record)
    if lenient is None:
        raise ValueError("rejected by pycef")
    lenient_header = [
        "CEF:" + lenient.get("CEFVersion", ""),
        *(unescape_header(lenient.get(name, "")) for name in HEADER_NAMES[1:]),
    ]
    if lenient_header != header:
        raise ValueError(f"header: pycef read {lenient_header}, strict read {header}")
    lenient_extension = {
        key: unescape_extension(value)
        for key, value in lenient.items()
        if key not in HEADER_NAMES and key not in ("DeviceName", "DeviceSeverity")
    }
    strict_extension = apply_labels(extension)
    if lenient_extension != strict_extension:
        raise ValueError(
            f"extension: pycef read {lenient_extension}, strict read {strict_extension}"
        )
    seq = strict_extension.get("seq", "")
    if not re.fullmatch(r"[0-9]+", seq):
        raise ValueError(f"bad or missing seq {seq!r}")
    return int(seq)


def main():
    if len(sys.argv) != 2:
        print("usage: cef_check.py CEF_FILE", file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as handle:
        data = handle.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    invalid, seqs = [], []
    for number, raw_line in enumerate(lines, start=1):
        try:
            seqs.append(check(raw_line))
        except ValueError as error:
            invalid.append(number)
            print(f"line {number}: {error}", file=sys.stderr)
    print(json.dumps({"records": len(lines), "invalid": invalid, "seqs": sorted(seqs)}))
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
