"""Cost per clip of the pretrained embeddings of ``evaluate``: musicnn (MSD, penultimate) and CREPE tiny.

For each clip length (5 s, the real configs' segments, and 2 s, the test configs') it embeds
``--clips`` synthetic music clips (``audiowgan.ingest.demo``, 16 kHz, -20 dBFS RMS) ``--repeats``
times and prints the best time per clip, wall clock and CPU seconds of the process (on a shared
machine the CPU seconds show the work when other jobs slow the wall clock). What is paid once per
process is printed apart: importing TensorFlow, and building each network with its first call
(weights read, one trace of the forward pass).

    nice .venv/bin/python benchmarks/embedding_cost.py              # 16 clips, 3 repeats
    nice .venv/bin/python benchmarks/embedding_cost.py --clips 4 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

SR = 16000


def clock():
    return time.perf_counter(), time.process_time()


def since(start) -> tuple[float, float]:
    wall, cpu = clock()
    return wall - start[0], cpu - start[1]


def clips(n: int, seconds: float) -> np.ndarray:
    from audiowgan.ingest import demo

    x = np.stack([demo.piece(seed=s, seconds=seconds, sample_rate=SR) for s in range(n)])
    return 0.1 * x / np.sqrt(np.mean(x**2, axis=1, keepdims=True))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from audiowgan.nn import crepe, musicnn

    report = {}
    start = clock()
    import tensorflow  # noqa: F401

    report["import_tensorflow"] = since(start)
    embedders = {
        "musicnn": (musicnn.embed, musicnn.describe()),
        "crepe": (crepe.embed, crepe.describe()),
    }
    sets = {seconds: clips(args.clips, seconds) for seconds in (5.0, 2.0)}
    for name, (embed, info) in embedders.items():
        start = clock()
        embed(sets[2.0][:1], sample_rate=SR)
        report[f"{name}_first_call"] = since(start)
        for seconds, x in sets.items():
            best = (np.inf, np.inf)
            for _ in range(args.repeats):
                start = clock()
                rows = embed(x, sample_rate=SR)
                wall, cpu = since(start)
                best = (min(best[0], wall / len(x)), min(best[1], cpu / len(x)))
            report[f"{name}_{seconds:g}s_per_clip"] = best
            report[f"{name}_{seconds:g}s_rows_per_clip"] = rows.shape[1]
        report[f"{name}_dimension"] = info["dimension"]
    for key, value in report.items():
        if isinstance(value, tuple):
            print(f"{key:32s} wall {value[0]:7.3f} s   cpu {value[1]:7.3f} s")
        else:
            print(f"{key:32s} {value}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
