"""Write files so that no half-written file is ever taken as complete.

Every writer in the shared module goes through :func:`replacing` (or, for a folder
output, :func:`replacing_dir`): the content is written to a temporary name beside the
target and renamed over it only when complete (``os.replace`` is atomic on one
filesystem).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: str | Path, *, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds.

    The temporary name is ``.NAME.tmp``, or ``.tmp.NAME`` with ``keep_suffix`` for
    writers that insist on the extension (Keras' ``.weights.h5``). On an error the
    temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    tmp = path.with_name(f".tmp.{path.name}" if keep_suffix else f".{path.name}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def replacing_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; it becomes ``path`` only if the block succeeds.

    For folder outputs (a track's segments or mels): a job killed half-way leaves no ``path``
    at all, so the next run sees the output missing and redoes the job, whatever Snakemake's
    own incomplete-job tracking knew (it does not see jobs behind a checkpoint that were
    killed). A previous ``path`` is replaced; a leftover temporary folder is cleared first.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text(path: str | Path, text: str) -> None:
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2) + "\n")
