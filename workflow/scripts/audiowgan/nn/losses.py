"""``losses.csv``: one row per generator step. The one place that writes and reads the file.

Two copies exist: the model's (``model/losses.csv``, streamed while training runs and replaced by the
complete table at the end) and the checkpoint's (``checkpoints/losses.csv``, the rows up to the latest
checkpoint, so that a resumed run continues the table without a gap).
"""

from __future__ import annotations

import csv
from pathlib import Path

from audiowgan.core import atomic

COLUMNS = ["epoch", "step", "d_loss", "g_loss", "gradient_penalty", "wasserstein", "seconds"]
LOSSES = COLUMNS[2:6]  # the values one step returns


class LossesWriter:
    """A losses.csv on an open text file: the header and ``rows`` at once, then one row at a time."""

    def __init__(self, fh, rows: list[dict]):
        self._fh = fh
        self._writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        self._writer.writeheader()
        self._writer.writerows(rows)

    def write(self, row: dict, *, flush: bool = False) -> None:
        self._writer.writerow(row)
        if flush:
            self._fh.flush()


def write_losses(path: str | Path, rows: list[dict]) -> None:
    """The complete table, written atomically."""
    with atomic.replacing(Path(path)) as tmp, open(tmp, "w", newline="") as f:
        LossesWriter(f, rows)


def read_losses(path: str | Path) -> list[dict]:
    """The rows of ``path`` ([] when it does not exist), epoch and step as int, the rest as float."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [
            {k: (int(v) if k in ("epoch", "step") else float(v)) for k, v in row.items()} for row in csv.DictReader(f)
        ]
