"""Logging of workflow jobs into their Snakemake log file."""

import contextlib
import logging

__all__ = ["log_to"]


@contextlib.contextmanager
def log_to(path):
    """Send ``logging`` records, stderr (progress bars) and any exception to ``path``."""
    with open(path, "w", buffering=1) as handle:
        logging.basicConfig(stream=handle, level=logging.INFO, force=True,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        with contextlib.redirect_stderr(handle):
            try:
                yield
            except Exception:
                logging.getLogger("labeltransfer").exception("job failed")
                raise
