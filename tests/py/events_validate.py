"""Validates a jsonl export of Cairn against schemas/events.schema.json.

Usage: events_validate.py SCHEMA FILE. Prints {"valid": N, "invalid": [...]}
on stdout; exits 1 when a line is invalid, 2 on bad usage.
"""

import json
import sys

from jsonschema import Draft202012Validator


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: events_validate.py SCHEMA FILE", file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as handle:
        schema = json.load(handle)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    valid, invalid = 0, []
    with open(sys.argv[2], encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                event = json.loads(line)
            except json.JSONDecodeError as error:
                invalid.append(number)
                print(f"line {number}: not JSON: {error}", file=sys.stderr)
                continue
            errors = list(validator.iter_errors(event))
            if errors:
                invalid.append(number)
                for error in errors[:3]:
                    print(f"line {number}: {error.json_path}: {error.message}", file=sys.stderr)
            else:
                valid += 1
    print(json.dumps({"valid": valid, "invalid": invalid}))
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
