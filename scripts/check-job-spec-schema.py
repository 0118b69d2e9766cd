#!/usr/bin/env python3
"""Checks docs/job-spec.schema.json against job spec files.

Usage: check-job-spec-schema.py SCHEMA FILE...
Prints one JSON line per file: {"file": ..., "verdict": "accepted" | "rejected", "why": ...}.
A file that is not UTF-8 or not YAML is "rejected" before the schema is consulted, as an editor
would show it. Needs PyYAML and jsonschema (./setup.sh installs them).
"""
import datetime
import json
import sys

import jsonschema
import yaml


def to_json_shape(value):
    # PyYAML turns unquoted timestamps into datetimes; editors see them as strings.
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_json_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json_shape(v) for v in value]
    return value


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        schema = json.load(handle)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in sys.argv[2:]:
        try:
            with open(path, "rb") as handle:
                document = to_json_shape(yaml.safe_load(handle.read().decode("utf-8")))
        except (UnicodeDecodeError, yaml.YAMLError) as error:
            print(json.dumps({"file": path, "verdict": "rejected", "why": f"unreadable: {type(error).__name__}"}))
            continue
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        if errors:
            why = "; ".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message[:120]}" for e in errors)
            print(json.dumps({"file": path, "verdict": "rejected", "why": why}))
        else:
            print(json.dumps({"file": path, "verdict": "accepted", "why": ""}))


if __name__ == "__main__":
    main()
