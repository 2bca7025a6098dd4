"""Small JSON files of timings and statistics."""

import json

__all__ = ["write_json", "read_json"]


def write_json(path, payload):
    """Write ``payload`` as indented JSON."""
    with open(path, "w") as handle:
        json.dump(payload, handle, indent=2)


def read_json(path):
    """Read a JSON file."""
    with open(path) as handle:
        return json.load(handle)
