"""Training steps per second with the workflow's input pipeline against ``Dataset.from_generator``'s.

TensorFlow's generator dataset (``tf.data.Dataset.from_generator``, which ``nn.batches`` used until
2026-12-06) sets glibc's M_TRIM_THRESHOLD for the whole process when it first runs ("Memory patch
applied" in the log). That turns off malloc's adaptive mmap threshold, so from then on every tensor over
128 KiB is mapped and unmapped afresh, page faults and all, in every step. No later call undoes it, so
the two pipelines cannot share a process: each run here is a fresh process that trains the demo's
networks (``config/demo.yaml``: 64 mel bands, 126 frames, batch 16, float32) through ``nn.train.train``
on synthetic mels, with the workflow's pipeline or with the generator one (the old ``epoch_dataset``),
in turn, and reports its mean seconds per step after the first epoch (whose first step traces the graph), the
waits between epochs included (the generator pipeline also let tf.data autotune, whose thread held each new
epoch up by up to 5.12 s).

    nice .venv/bin/python benchmarks/input_pipeline.py [--rounds 3] [--epochs 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from train_memory import write_dataset

ROOT = Path(__file__).resolve().parents[1]
DEMO_MODEL = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())["model"]  # the networks make run trains
ROWS = 128  # 8 steps an epoch at batch 16

CHILD = """
import json, sys
import numpy as np
import pandas as pd
args = json.loads(sys.argv[1])
from audiowgan.nn import devices
devices.configure_threads(args["threads"])
import tensorflow as tf
from audiowgan.nn import batches
if args["pipeline"] == "generator":  # nn.batches.epoch_dataset until 2026-12-06
    def epoch_dataset(mels, order, start=0):
        shape = (order.shape[1], *mels.shape[1:], 1)
        def gen():
            for rows in order[start:]:
                yield batches.read_batch(mels, rows)
        ds = tf.data.Dataset.from_generator(gen, output_signature=tf.TensorSpec(shape, tf.float32))
        return ds.prefetch(2)
    batches.epoch_dataset = epoch_dataset
from audiowgan.nn import train as T
T.train(dataset_dir=args["dataset"], model_dir=args["out"] + "/model", checkpoint_dir=args["out"] + "/ckpt",
        model_params=args["model"], train_params=args["train"], threads=args["threads"])
seconds = pd.read_csv(args["out"] + "/model/losses.csv")["seconds"].to_numpy()
after_first = seconds[args["steps_per_epoch"] - 1:]
print(json.dumps({"s_per_step": float((after_first[-1] - after_first[0]) / (len(after_first) - 1))}))
"""


def run(pipeline: str, dataset: Path, out: Path, epochs: int, threads: int) -> float:
    """Mean seconds per step after the first epoch of one fresh training process."""
    train = {"epochs": epochs, "batch_size": 16, "seed": 0, "checkpoint_every": 10_000, "tensorboard": False}
    payload = {"pipeline": pipeline, "dataset": str(dataset), "out": str(out), "model": DEMO_MODEL, "train": train,
               "threads": threads, "steps_per_epoch": ROWS // 16}  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow" / "scripts"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    res = subprocess.run([sys.executable, "-c", CHILD, json.dumps(payload)], env=env, capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"{pipeline} run failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])["s_per_step"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="pairs of runs, the two pipelines in turn")
    ap.add_argument("--epochs", type=int, default=4, help=f"epochs of each run ({ROWS // 16} steps each)")
    ap.add_argument("--threads", type=int, default=2, help="the train job's threads")
    args = ap.parse_args()
    times: dict[str, list[float]] = {"workflow (numpy_function)": [], "from_generator": []}
    with tempfile.TemporaryDirectory() as tmp:
        dataset = Path(tmp) / "ds"
        write_dataset(dataset, ROWS, (64, 126))
        for r in range(args.rounds):
            for runs, pipeline in zip(times.values(), ("workflow", "generator")):
                runs.append(run(pipeline, dataset, Path(tmp) / f"{pipeline}-{r}", args.epochs, args.threads))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.3f} s/step" for k, v in times.items()), flush=True)
    ratios = [b / a for a, b in zip(*times.values())]
    print("\n| input pipeline | s/step (median of rounds) |\n|---|---|")
    for name, runs in times.items():
        print(f"| {name} | {statistics.median(runs):.3f} |")
    print(f"\nfrom_generator / workflow, per round: {', '.join(f'{x:.2f}x' for x in ratios)}; "
          f"median {statistics.median(ratios):.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
