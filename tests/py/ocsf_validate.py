#!/usr/bin/env python3
"""Validates OCSF events, one JSON object per line, against the official
OCSF 1.8.0 JSON schema of each event's class (docs/contract.md section 3: every
exported OCSF event must validate).

Usage: ocsf_validate.py [FILE]   (no FILE, or "-": standard input)

Each line is checked against the JSON Schema (Draft 2020-12) that the
`ocsf-json-schema` package generates for the event's `class_uid` and the
profiles it declares in `metadata.profiles`. Those schemas are strict:
objects accept no attribute the schema does not define, required
attributes must be present, enumerated ids must be valid. On top of the
schema, which cannot express them, the script checks that
`metadata.version` is 1.8.0, that `type_uid` is `class_uid * 100 +
activity_id`, and that every caption sibling (`class_name`,
`activity_name`, `severity`, `status`, `type_name`, nested `type`, ...)
agrees with its id, except for the id 99 (Other), whose sibling holds the
source's own word.

Every failure goes to standard error with its line number and the event's
`metadata.sequence`; standard output gets one summary JSON line:
{"valid": N, "invalid": M, "classes": {"<class_uid>": count}, "actions": [...]}.
Exit status: 0 when every line is valid, 1 when any is not, 2 on bad usage.
"""

import json
import sys

from jsonschema import Draft202012Validator
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

OCSF_VERSION = "1.8.0"
OTHER = 99


class Checker:
    """Validators per (class, profiles), built once each."""

    def __init__(self):
        self.raw = get_ocsf_schema(OCSF_VERSION)
        self.embedded = OcsfJsonSchemaEmbedded(self.raw)
        self.validators = {}

    def validator(self, class_name, profiles):
        key = (class_name, profiles)
        if key not in self.validators:
            schema = self.embedded.get_class_schema(class_name, list(profiles))
            Draft202012Validator.check_schema(schema)
            self.validators[key] = Draft202012Validator(schema)
        return self.validators[key]

    def errors(self, event):
        """Every problem of one event, as strings."""
        if not isinstance(event, dict):
            return ["not a JSON object"]
        class_uid = event.get("class_uid")
        if not isinstance(class_uid, int) or isinstance(class_uid, bool):
            return ["class_uid is missing or not an integer"]
        try:
            class_name = self.embedded.lookup_class_name_from_uid(class_uid)
        except ValueError:
            return [f"class_uid {class_uid} is not an OCSF {OCSF_VERSION} class"]
        metadata = event.get("metadata")
        profiles = metadata.get("profiles", []) if isinstance(metadata, dict) else []
        if not isinstance(profiles, list) or not all(isinstance(p, str) for p in profiles):
            return ["metadata.profiles is not a list of strings"]
        unknown = [p for p in profiles if p not in self.raw["profiles"]]
        if unknown:
            return [f"metadata.profiles names unknown profiles {unknown}"]

        problems = []
        validator = self.validator(class_name, tuple(sorted(set(profiles))))
        for error in sorted(validator.iter_errors(event), key=lambda e: list(e.absolute_path)):
            path = "/".join(str(part) for part in error.absolute_path) or "(event)"
            problems.append(f"{path}: {error.message}")

        if isinstance(metadata, dict) and metadata.get("version") != OCSF_VERSION:
            problems.append(f"metadata.version is {metadata.get('version')!r}, not {OCSF_VERSION!r}")
        activity_id = event.get("activity_id")
        if isinstance(activity_id, int) and event.get("type_uid") != class_uid * 100 + activity_id:
            problems.append(
                f"type_uid {event.get('type_uid')} is not class_uid * 100 + activity_id "
                f"({class_uid * 100 + activity_id})"
            )
        attributes = self.raw["classes"][class_name]["attributes"]
        problems.extend(self.sibling_errors(event, attributes, ""))
        return problems

    def sibling_errors(self, value, attributes, path):
        """Caption siblings that disagree with their ids, at any depth."""
        problems = []
        for key, item in value.items():
            attribute = attributes.get(key)
            if attribute is None:
                continue  # the schema check reports unknown attributes
            enum, sibling = attribute.get("enum"), attribute.get("sibling")
            if enum and sibling and isinstance(item, int) and sibling in value:
                entry = enum.get(str(item))
                if entry is not None and item != OTHER and value[sibling] != entry.get("caption"):
                    problems.append(
                        f"{path}{sibling}: {value[sibling]!r} does not match "
                        f"{key} {item} ({entry.get('caption')!r})"
                    )
            object_type = attribute.get("object_type")
            if object_type in self.raw["objects"]:
                nested = self.raw["objects"][object_type]["attributes"]
                items = item if isinstance(item, list) else [item]
                for index, element in enumerate(items):
                    if isinstance(element, dict):
                        where = f"{path}{key}/{index}/" if isinstance(item, list) else f"{path}{key}/"
                        problems.extend(self.sibling_errors(element, nested, where))
        return problems


def sequence_of(event):
    if isinstance(event, dict) and isinstance(event.get("metadata"), dict):
        return event["metadata"].get("sequence")
    return None


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    path = argv[1] if len(argv) == 2 else "-"
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as file:
                data = file.read()
    except OSError as error:
        print(f"ocsf_validate: cannot read {path}: {error}", file=sys.stderr)
        return 2

    checker = Checker()
    valid = invalid = 0
    classes = {}
    actions = set()
    # Split on LF only: a JSON line may legitimately hold U+2028 or U+0085.
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        event = None
        try:
            event = json.loads(raw.decode("utf-8"))
            problems = checker.errors(event)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            problems = [f"not a JSON line: {error}"]
        if isinstance(event, dict):
            if isinstance(event.get("class_uid"), int):
                key = str(event["class_uid"])
                classes[key] = classes.get(key, 0) + 1
            metadata = event.get("metadata")
            if isinstance(metadata, dict) and isinstance(metadata.get("event_code"), str):
                actions.add(metadata["event_code"])
        if problems:
            invalid += 1
            for problem in problems:
                print(f"line {number} (seq {sequence_of(event)}): {problem}", file=sys.stderr)
        else:
            valid += 1

    summary = {
        "valid": valid,
        "invalid": invalid,
        "classes": dict(sorted(classes.items(), key=lambda item: int(item[0]))),
        "actions": sorted(actions),
    }
    print(json.dumps(summary))
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
