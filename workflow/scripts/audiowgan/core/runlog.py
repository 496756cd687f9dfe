"""Send a rule script's logging and stderr to its Snakemake ``log:`` file."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def setup(log_path: str | Path | None, *, level: int = logging.INFO) -> logging.Logger:
    """Log to ``log_path`` (and keep stderr there too, so tracebacks land in the log)."""
    handlers: list[logging.Handler] = []
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        stream = open(log_path, "a", buffering=1)  # line-buffered: progress is visible while a job runs
        sys.stderr = stream
        handlers.append(logging.StreamHandler(stream))
    else:
        handlers.append(logging.StreamHandler(sys.stderr))
    logging.basicConfig(
        level=level, handlers=handlers, force=True, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return logging.getLogger("audiowgan")
