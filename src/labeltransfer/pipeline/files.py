"""The small files the jobs pass on: JSON of timings and statistics, and the prediction tables read
back (nothing else imported: a job that reads or writes them imports no method)."""

import json

import pandas as pd

__all__ = ["write_json", "read_json", "read_predictions"]


def write_json(path, payload):
    """Write ``payload`` as indented JSON."""
    with open(path, "w") as handle:
        json.dump(payload, handle, indent=2)


def read_json(path):
    """Read a JSON file."""
    with open(path) as handle:
        return json.load(handle)


def read_predictions(methods, prediction_paths):
    """Each method's prediction table (IDs as strings), by method name."""
    return {m: pd.read_csv(p, dtype={"apogee_id": str}) for m, p in zip(methods, prediction_paths)}
