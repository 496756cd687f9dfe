"""Peak RSS of a short training run on 1x and 4x the data: it must not grow with the dataset.

Each run is a fresh process (tiny networks, one epoch, synthetic mels.npy in a temporary folder),
which reports its own peak resident set size (ru_maxrss). ``--mapped`` shows what reading the
batches through the memmap's mapping would cost instead of os.preadv (the file-backed pages a
process has touched count in its RSS).

    nice .venv/bin/python benchmarks/train_memory.py [--n 256] [--shape 128x216]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, resource, sys, time
import numpy as np
args = json.loads(sys.argv[1])
from audiowgan.nn import train as T
from audiowgan.nn import batches
if args["mapped"]:  # read through the mapping instead of os.preadv
    _read = batches.read_batch
    batches.read_batch = lambda mels, rows: _read(np.asarray(mels), rows)
t = time.perf_counter()
T.train(dataset_dir=args["dataset"], model_dir=args["out"] + "/model", checkpoint_dir=args["out"] + "/ckpt",
        model_params=args["model"], train_params=args["train"])
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.perf_counter() - t}))
"""


def write_dataset(path: Path, n: int, shape: tuple[int, int]) -> int:
    path.mkdir(parents=True)
    mm = np.lib.format.open_memmap(path / "mels.npy", mode="w+", dtype=np.float32, shape=(n, *shape))
    rng = np.random.default_rng(0)
    for i in range(0, n, 64):  # written in chunks: this process stays small too
        mm[i : i + 64] = rng.uniform(-1, 1, (min(64, n - i), *shape)).astype(np.float32)
    mm.flush()
    del mm
    pd.DataFrame({"row": range(n), "track": "t", "segment": range(n)}).to_csv(path / "index.csv", index=False)
    meta = {"n_mels": shape[0], "frames": shape[1], "n_segments": n, "sample_rate": 22050, "hop_length": 512}
    (path / "meta.json").write_text(json.dumps(meta))
    return (path / "mels.npy").stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256, help="segments in the 1x dataset")
    ap.add_argument("--shape", default="128x216", help="n_mels x frames")
    ap.add_argument("--mapped", action="store_true", help="read batches through the mapping (for comparison)")
    args = ap.parse_args()
    shape = tuple(int(v) for v in args.shape.split("x"))
    model = {
        "noise_dim": 16,
        "generator_channels": [16, 8, 4],
        "critic_channels": [4, 8],
        "generator_kernel_size": 3,
        "critic_kernel_size": 3,
    }
    train = {"epochs": 1, "batch_size": 16, "d_steps": 1, "gp_weight": 10.0, "learning_rate": 2e-4, "beta_1": 0.5,
             "beta_2": 0.9, "seed": 0, "checkpoint_every": 10_000, "mixed_precision": False, "xla": False}  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow" / "scripts"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # The third run has the 1x data for 4 epochs: as many steps as the 4x run, to tell growth
        # with the data apart from growth with the number of steps (allocator, losses rows).
        for run, (scale, epochs) in enumerate([(1, 1), (4, 1), (1, 4)]):
            ds = Path(tmp) / f"ds{scale}"
            size = write_dataset(ds, args.n * scale, shape) if not ds.exists() else (ds / "mels.npy").stat().st_size
            payload = {"dataset": str(ds), "out": str(Path(tmp) / f"out{run}"), "model": model,
                       "train": {**train, "epochs": epochs}, "mapped": args.mapped}  # fmt: skip
            res = subprocess.run([sys.executable, "-c", CHILD, json.dumps(payload)], env=env, capture_output=True,
                                 text=True, check=True)  # fmt: skip
            stats = json.loads(res.stdout.strip().splitlines()[-1])
            rows.append((scale, epochs, args.n * scale, size / 2**20, stats["peak_rss_mb"], stats["seconds"]))
    print(f"mel {shape[0]}x{shape[1]}, batch 16, one epoch; batches read "
          f"{'through the mapping' if args.mapped else 'with os.preadv'}")  # fmt: skip
    print(f"{'data':>5} {'epochs':>6} {'N':>6} {'mels.npy MB':>12} {'peak RSS MB':>12} {'train s':>8}")
    for scale, epochs, n, size, rss, secs in rows:
        print(f"{scale:>4}x {epochs:>6} {n:>6} {size:>12.1f} {rss:>12.1f} {secs:>8.1f}")
    print(
        f"peak RSS 4x - 1x: {rows[1][4] - rows[0][4]:+.1f} MB for {rows[1][3] - rows[0][3]:+.1f} MB more data; "
        f"1x data for as many steps as 4x: {rows[2][4] - rows[0][4]:+.1f} MB"
    )


if __name__ == "__main__":
    main()
