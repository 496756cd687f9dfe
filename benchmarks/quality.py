"""Does the model learn real music? Distances to held-out real recordings, against noise, at one budget.

Real recordings of three kinds (``--corpus``, see ``real_corpus.py``): Debian's ``wesnoth-1.16-music``
(orchestral), ``nexuiz-music`` (electronic) and two Frets on Fire song packs (metal), a stable subset of
``--minutes`` minutes. They go through the workflow's own library code (segment, mel, pack with whole
tracks held out, train, generate); Snakemake is left out so that the whole budget goes to training. Each
configuration in ``--configs`` (see ``CONFIGS``: the settings before this round of changes, today's defaults, and
one-change-at-a-time variants) trains for the same budget of ``--budget`` CPU minutes of this
process (``time.process_time``, all threads: on an idle 2-core machine about half as many wall
minutes), or of ``--steps`` steps, then its moving-average generator renders ``--clips`` clips
(Griffin-Lim, as ``generate``). CPU minutes compare configurations whose steps cost differently, but
only among runs that shared the machine alike: a CPU minute buys fewer steps on a crowded machine
(with ``--threads 1``, 1.76x fewer with 15 runs on 2 cores than with 2). Steps give the same training
however loaded the machine is, so a run can be repeated exactly. Every set is
compared with half A of the held-out segments (the segments themselves, never overlapping ones):

- ``mel FD``: Frechet distance of mel frames (the workflow's ``frechet_distance.generated``), the mean over
  draws of ``--clips`` of the set's ``--pool`` clips, with the draws' 10th to 90th percentile;
- ``mel FD x training``: the same distance to training segments instead (all of them but the training-copy
  row's), over the training-copy row's: how close a set comes to the music the model was
  trained on, which a held-out split whose tracks differ from the training ones cannot show (with end blocks
  held out, the ends of tracks: fades and codas);
- ``CREPE FD`` and ``CREPE KD`` (and musicnn's): Frechet and unbiased kernel distance of CREPE-tiny frame
  embeddings (``perceptual``), with the same reference: the KD from all of the set's clips, the FD the mean over
  draws of ``--clips`` (``--embed``);
- ``clips differ`` and ``each clip moves``: how much the set's clips differ from each other in their
  mean spectrum, and how much each one's bands move over its length (``clip_spread``), over
  real-vs-real's: what pooled frames cannot show (clips that each drift through every texture have
  the frames of clips that each hold one);

next to half B of the held-out segments (real vs real, the floor) and white and pink noise at the
clips' loudness, and the inversion ceiling: half B's own mels through the clips' Griffin-Lim (32 fast
iterations) and loudness, the best a generator whose mels were perfect could score; and training
segments themselves, what a model that reproduced its training set exactly would score (with few
tracks, held-out tracks can differ from the training ones by more than any model error).
``KD gap closed`` is how much of the way from pink noise to real-vs-real a set's
CREPE KD has come (100% = as close as real music).

    nice .venv/bin/python benchmarks/quality.py [--corpus wesnoth] [--minutes 24] [--budget 10] [--out DIR]

Each call writes ``<out>/<corpus>/quality-<holdout-by>[-seedN].json`` and keeps in it the rows of earlier
calls with the same seed and setup, so ``quality_seeds.py`` can compare configurations trained in
different calls. The rows of real vs real, noise, the ceiling and the training copy depend only on the prepared
data and the evaluation's arguments: the first call computes them and keeps them beside the dataset
(``quality-baselines.json``, one entry per setup), and later calls on the same data with the same arguments
(whatever their seed, budget or configurations) reuse them.

The workflow makes the same table from ``config/experiments-quality.yaml`` (one experiment per
configuration that shares the side-by-side dataset), with equal epochs instead of equal CPU minutes:
docs/experiments.md, "The quality table". This script stays for the equal-budget comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "workflow" / "scripts"), str(ROOT / "benchmarks")]

from audiowgan.core.names import WEIGHTS, clip_file  # noqa: E402
from audiowgan.core.settings import AudioSpec, MelSpec, TrainSpec  # noqa: E402
from audiowgan.data import pack as dataset  # noqa: E402
from audiowgan.dsp import audio  # noqa: E402
from audiowgan.dsp import mel as features  # noqa: E402
from audiowgan.look import distances as metrics  # noqa: E402
from audiowgan.look import embedders as embedder_modules  # noqa: E402
from audiowgan.look import evaluate as evaluation  # noqa: E402
from audiowgan.render import generate as generation  # noqa: E402

AUDIO = AudioSpec.from_mapping(sample_rate=16000, segment_seconds=2.0)
MEL = MelSpec.from_mapping(n_fft=1024, hop_length=256, n_mels=64)
# demo.yaml's widths; the tanh output and the plain critic every configuration was measured with before 2026-12-05
# (17 turns the peak norm on, 16 and 18 the minibatch std, 22 the clip statistics; each names what it changes)
MODEL = {
    "noise_dim": 64,
    "generator_channels": [128, 64, 32, 16],
    "critic_channels": [16, 32, 64],
    "generator_peak_norm": False,
    "critic_minibatch_std": 0,
    "critic_clip_stats": False,
    "critic_kernel_size": 5,  # the write-up's and the default; pinned so config 32's 3x3 is the only other one measured
    "generator_self_modulation": False,
}
BATCH = 16
# What today's defaults change in MODEL (since 2026-12-05): configs named "today's defaults" start from it
TODAY = {"generator_peak_norm": True, "critic_clip_stats": True}
# SAGAN's training (configs 37 and 38): the critic at 4x the generator's learning rate, Adam's beta_1 0
SAGAN = {"learning_rate": 1e-4, "critic_learning_rate": 4e-4, "beta_1": 0.0}
BEFORE = {"model": {"generator_kernel_size": 5, "critic_kernel_size": 5}, "train": {"augment": 0.0}, "hop": None}


def config_30(model: dict | None = None, train: dict | None = None) -> dict:
    """Config 30 (today's defaults at 128 mel bands in bfloat16, band position) with ``model`` and ``train`` keys
    over its own: the configurations measured against it since 2026-12-07 change one thing each."""
    return {
        "model": {**TODAY, "band_position": True, **(model or {})},
        "train": {"mixed_precision": True, **(train or {})},
        "hop": 1.0,
        "n_mels": 128,
    }


# name: model and train overrides on top of MODEL and the schema's defaults, and the seconds between segment starts
# (None: side by side; 1.0 is audio.segment_overlap 0.5 on these 2-s segments). Optional: "standing_statistics"
# (default True: the moving average's BatchNorm statistics measured on its own weights, as train does since
# 2026-12-05; False: the raw generator's, as before), "lr_decay" (True: the learning rate falls linearly to 0
# over the CPU budget), "weights" (generate.weights, :func:`rendered_weights`: "ema", the default, or "raw": the clips
# from the generator's own weights, as trained, not their moving average), "n_mels" (default MEL's 64: the mel
# bands the model is trained on and renders from; every set is still compared in MEL's bands, from its audio),
# "temperature" (generate.temperature, default 1) and "renders" (the index of a configuration with the same training
# settings: this one renders that one's snapshot, trained once in its folder, in its own way, and trains nothing).
REAL, PINK = "real vs real (held-out half B)", "pink noise"
CEILING = "inversion ceiling (held-out half B through mel and Griffin-Lim)"
TRAINING = "training segments (a perfect copy of the training set)"
CONFIGS = {
    "before (5x5 G, no augment, no overlap)": BEFORE,
    "3x3 G, augment 0.5, hop 1 s": {"model": {}, "train": {"augment": 0.5}, "hop": 1.0},
    "3x3 G, hop 1 s, tanh output (the defaults until 2026-12-05: overlap 0.5)": {"model": {}, "train": {}, "hop": 1.0},
    "3x3 G, augment 0.5": {"model": {}, "train": {"augment": 0.5}, "hop": None},
    "3x3 G, side by side (the defaults until 2026-12-03)": {"model": {}, "train": {}, "hop": None},
    "conv1d": {
        "model": {"kind": "conv1d", "generator_channels": [512, 256, 128], "critic_channels": [128, 256, 256]},
        "train": {},
        "hop": 1.0,
    },  # fmt: skip
    "3x3 G, hop 1 s, 1 critic step": {"model": {}, "train": {"d_steps": 1}, "hop": 1.0},
    "3x3 G, hop 1 s, 2 critic steps": {"model": {}, "train": {"d_steps": 2}, "hop": 1.0},
    "3x3 G, hop 0.5 s": {"model": {}, "train": {}, "hop": 0.5},
    "3x3 G, hop 1 s, critic band norm": {"model": {"critic_band_norm": True}, "train": {}, "hop": 1.0},
    "deeper: G [256, 128, 64, 32, 16], critic [16, 32, 64, 128] (raw statistics)": {
        "model": {"generator_channels": [256, 128, 64, 32, 16], "critic_channels": [16, 32, 64, 128]},
        "train": {},
        "hop": 1.0,
        "standing_statistics": False,  # as it was measured, against config 11
    },  # fmt: skip
    "3x3 G, hop 1 s, the moving average with the raw generator's BatchNorm statistics (before 2026-12-05)": {
        "model": {},
        "train": {},
        "hop": 1.0,
        "standing_statistics": False,
    },  # fmt: skip
    "3x3 G, hop 1 s, learning rate falling linearly to 0 over the budget": {
        "model": {},
        "train": {},
        "hop": 1.0,
        "lr_decay": True,
    },  # fmt: skip
    "3x3 G, hop 1 s, critic twice as wide [32, 64, 128]": {
        "model": {"critic_channels": [32, 64, 128]},
        "train": {},
        "hop": 1.0,
    },  # fmt: skip
    "3x3 G, hop 1 s, batch 32": {"model": {}, "train": {"batch_size": 32}, "hop": 1.0},
    "3x3 G, hop 1 s, noise_dim 128": {"model": {"noise_dim": 128}, "train": {}, "hop": 1.0},
    "3x3 G, hop 1 s, critic minibatch std (groups of 4)": {
        "model": {"critic_minibatch_std": 4},
        "train": {},
        "hop": 1.0,
    },  # fmt: skip
    "3x3 G, hop 1 s, generator output peak at 0 dB (the defaults until the clip statistics, 2026-12-05)": {
        "model": {"generator_peak_norm": True},
        "train": {},
        "hop": 1.0,
    },  # fmt: skip
    "peak at 0 dB, critic minibatch std (groups of 4)": {
        "model": {"generator_peak_norm": True, "critic_minibatch_std": 4},
        "train": {},
        "hop": 1.0,
    },  # fmt: skip
    "peak at 0 dB, critic band norm": {
        "model": {"generator_peak_norm": True, "critic_band_norm": True},
        "train": {},
        "hop": 1.0,
    },  # fmt: skip
    "peak at 0 dB, the WGAN-GP paper's Adam (learning rate 1e-4, beta_1 0)": {
        "model": {"generator_peak_norm": True},
        "train": {"learning_rate": 1e-4, "beta_1": 0.0},
        "hop": 1.0,
    },  # fmt: skip
    "peak at 0 dB, learning rate 4e-4": {
        "model": {"generator_peak_norm": True},
        "train": {"learning_rate": 4e-4},
        "hop": 1.0,
    },  # fmt: skip
    "peak at 0 dB, critic sees each band's mean and spread over the clip (today's defaults)": {
        "model": TODAY,
        "train": {},
        "hop": 1.0,
    },  # fmt: skip
    "today's defaults, generator twice as wide [256, 128, 64, 32]": {
        "model": {**TODAY, "generator_channels": [256, 128, 64, 32]},
        "train": {},
        "hop": 1.0,
    },  # fmt: skip
    "today's defaults, generator self-modulation (BatchNorm scale and offset from the noise)": {
        "model": {**TODAY, "generator_self_modulation": True},
        "train": {},
        "hop": 1.0,
    },  # fmt: skip
    "today's defaults at 128 mel bands": {
        "model": TODAY,
        "train": {},
        "hop": 1.0,
        "n_mels": 128,
    },  # fmt: skip
    "today's defaults at 96 mel bands": {
        "model": TODAY,
        "train": {},
        "hop": 1.0,
        "n_mels": 96,
    },  # fmt: skip
    "today's defaults in bfloat16 (train.mixed_precision, as the demo trains)": {
        "model": TODAY,
        "train": {"mixed_precision": True},
        "hop": 1.0,
    },  # fmt: skip
    "today's defaults at 128 mel bands in bfloat16": {
        "model": TODAY,
        "train": {"mixed_precision": True},
        "hop": 1.0,
        "n_mels": 128,
    },  # fmt: skip
    "today's defaults in bfloat16, every convolution reads its band position": {
        "model": {**TODAY, "band_position": True},
        "train": {"mixed_precision": True},
        "hop": 1.0,
    },  # fmt: skip
    "today's defaults at 128 mel bands in bfloat16, every convolution reads its band position": config_30(),
    "today's defaults in bfloat16, the penalty on the last of the three critic updates (train.gp_every 3)": {
        "model": TODAY,
        "train": {"mixed_precision": True, "gp_every": 3},
        "hop": 1.0,
    },  # fmt: skip
    "today's defaults in bfloat16, a 3x3 critic (model.critic_kernel_size 3)": {
        "model": {**TODAY, "critic_kernel_size": 3},
        "train": {"mixed_precision": True},
        "hop": 1.0,
    },  # fmt: skip
    "today's defaults in bfloat16, a segment every 0.5 s (audio.segment_overlap 0.75)": {
        "model": TODAY,
        "train": {"mixed_precision": True},
        "hop": 0.5,
    },  # fmt: skip
    "today's defaults in bfloat16, DiffAugment on the critic's batches (train.augment 0.5)": {
        "model": TODAY,
        "train": {"mixed_precision": True, "augment": 0.5},
        "hop": 1.0,
    },  # fmt: skip
    "today's defaults in bfloat16, one critic update at four times the generator's rate (TTUR as SAGAN: 4e-4, 1e-4)": {
        "model": TODAY,
        "train": {"mixed_precision": True, "d_steps": 1, "learning_rate": 1e-4, "critic_learning_rate": 4e-4},
        "hop": 1.0,
    },  # fmt: skip
    "today's defaults in bfloat16, one critic update at three times the generator's rate (6e-4, 2e-4)": {
        "model": TODAY,
        "train": {"mixed_precision": True, "d_steps": 1, "critic_learning_rate": 6e-4},
        "hop": 1.0,
    },  # fmt: skip
    "today's defaults in bfloat16, SAGAN's training (one critic update at 4e-4, 1e-4, Adam beta_1 0)": {
        "model": TODAY,
        "train": {"mixed_precision": True, "d_steps": 1, **SAGAN},
        "hop": 1.0,
    },  # fmt: skip
    "today's defaults in bfloat16, SAGAN's rates with two critic updates (4e-4, 1e-4, Adam beta_1 0)": {
        "model": TODAY,
        "train": {"mixed_precision": True, "d_steps": 2, **SAGAN},
        "hop": 1.0,
    },  # fmt: skip
    "128 mel bands in bfloat16, band position, SAGAN's training (config 30 trained as config 37)": config_30(
        train={"d_steps": 1, **SAGAN}
    ),
    "128 mel bands in bfloat16, band position, generator twice as wide [256, 128, 64, 32] (config 30, wider G)": config_30(
        model={"generator_channels": [256, 128, 64, 32]}
    ),
    "128 mel bands in bfloat16, band position, both networks twice as wide (config 40, critic [32, 64, 128])": config_30(
        model={"generator_channels": [256, 128, 64, 32], "critic_channels": [32, 64, 128]}
    ),
    "128 mel bands in bfloat16, band position, a moving average of about 200 steps (config 30, train.ema_decay 0.995)": config_30(
        train={"ema_decay": 0.995}
    ),
    "128 mel bands in bfloat16, band position, critic minibatch std (config 30, groups of 4)": config_30(
        model={"critic_minibatch_std": 4}
    ),
    "128 mel bands in bfloat16, band position, SAGAN's training and the generator twice as wide (configs 39 and 40)": config_30(
        model={"generator_channels": [256, 128, 64, 32]}, train={"d_steps": 1, **SAGAN}
    ),
    "128 mel bands in bfloat16, band position, rendered by the raw generator (config 30, generate.weights raw)": {
        **config_30(),
        "weights": "raw",
    },
    "128 mel bands in bfloat16, band position, MSGAN's diversity term (config 30, train.mode_seeking 1)": config_30(
        train={"mode_seeking": 1.0}
    ),
    "config 30's snapshot rendered at generate.temperature 1.25": {**config_30(), "renders": 30, "temperature": 1.25},
    "config 30's snapshot rendered at generate.temperature 1.5": {**config_30(), "renders": 30, "temperature": 1.5},
    "config 30's snapshot rendered at generate.temperature 0.8": {**config_30(), "renders": 30, "temperature": 0.8},
    "config 30's snapshot rendered at generate.temperature 1.1": {**config_30(), "renders": 30, "temperature": 1.1},
    "config 39's snapshot rendered at generate.temperature 1.25": {
        **config_30(train={"d_steps": 1, **SAGAN}),
        "renders": 39,
        "temperature": 1.25,
    },
}


DRAWS = 200  # draws of --clips clips per set that its mel FD is the mean of


def rendered_weights(config: dict) -> str:
    """Which generator a configuration's snapshot keeps and renders (generate.weights): "ema" unless it says "raw"."""
    return config.get("weights", "ema")


class BudgetSpent(Exception):
    """Raised by ``Budget`` once the training has used its CPU seconds or made its steps."""


def prepare(
    out: Path,
    corpus: str,
    minutes: float,
    holdout: float,
    hop: float | None,
    by: str = "auto",
    n_mels: int = MEL.n_mels,
) -> Path:
    """Segments, mels and the packed dataset of the corpus subset at segment hop ``hop`` and ``n_mels`` bands, held
    out ``by`` (``evaluate.holdout_by``); reused when there. Other band counts share the segments (and so the split)."""
    from real_corpus import audio_files

    tag = "side-by-side" if hop is None else f"hop-{hop:g}"
    bands = "" if n_mels == MEL.n_mels else f"-mels{n_mels}"
    overlap = 0.0 if hop is None else 1.0 - hop / AUDIO.segment_seconds
    ds = out / tag / (("dataset" if by == "auto" else f"dataset-{by}") + bands)
    if (ds / "meta.json").exists():
        return ds
    mel_dirs = {}
    spec = mel_at(n_mels)
    for path in audio_files(max_minutes=minutes, corpus=corpus):
        track = path.stem.replace(".", "_")
        seg, mel = out / tag / "segments" / track, out / tag / f"mel{bands}" / track
        audio.segment_track(
            path, {"status": "ok", "reason": ""}, seg, **{**AUDIO.to_dict(), "segment_overlap": overlap}
        )
        features.mel_directory(seg, mel, spec=spec, threads=2)
        mel_dirs[track] = mel
    meta = dataset.pack(mel_dirs, ds, holdout_fraction=holdout, holdout_by=by)
    print(f"dataset {tag}: {meta['n_segments']} segments of {AUDIO.segment_seconds} s from {meta['tracks']} tracks; "
          f"{meta['n_heldout']} held out ({meta['holdout']['by']}: {', '.join(meta['holdout']['tracks'])})",
          flush=True)  # fmt: skip
    return ds


def train_for_budget(ds: Path, run: Path, config: dict, cpu_seconds: float, steps: int = 0) -> tuple[Path, dict]:
    """Train one configuration until it has used ``cpu_seconds`` (or made ``steps`` steps, when given); return the
    snapshot folder and its figures."""
    from audiowgan.nn import train as T
    from audiowgan.nn.callbacks import average_statistics
    from audiowgan.nn.loop import Callback
    from audiowgan.nn.state import learning_rate_of

    snap = run / "snapshot"
    weights = rendered_weights(config)
    budget = {"steps": steps} if steps else {"cpu_minutes": cpu_seconds / 60}
    if (snap / "model.json").exists():  # trained by an earlier call with this --out: evaluate it again
        return reused_snapshot(snap, config, budget)

    class Budget(Callback):
        def on_train_begin(self, loop):
            self.t0 = time.process_time()

        def spent(self, loop) -> float:
            """How much of the budget is gone, 0 to 1."""
            return loop.step / steps if steps else (time.process_time() - self.t0) / cpu_seconds

        def on_step_end(self, loop, row):
            if config.get("lr_decay"):  # linear to 0 over the budget (the time-budget form of a decay over the steps)
                left = max(0.0, 1.0 - self.spent(loop))
                loop.state.g_opt.learning_rate = learning_rate_of(loop.tp, critic=False) * left
                loop.state.d_opt.learning_rate = learning_rate_of(loop.tp, critic=True) * left
            if self.spent(loop) >= 1.0:
                snap.mkdir(parents=True, exist_ok=True)
                standing = config.get("standing_statistics", True)
                if standing:
                    average_statistics(loop)  # as train does when it ends
                rendered = loop.state.generator if weights == "raw" else loop.state.extra["generator_ema"]
                rendered.save_weights(snap / WEIGHTS[weights])
                (snap / "model.json").write_text(json.dumps({**loop.mp.to_dict(), "input_shape": list(loop.data.shape),
                                                             "steps": loop.step, "standing_statistics": standing,
                                                             "budget": budget}))  # fmt: skip
                self.steps, self.wall, self.cpu = loop.step, loop.elapsed(), time.process_time() - self.t0
                raise BudgetSpent

    tp = TrainSpec.from_mapping(**{"epochs": 10**4, "batch_size": BATCH, "checkpoint_every": 10**6, "tensorboard": False,
                                   **config["train"]})  # fmt: skip
    callback = Budget()
    try:
        T.train(dataset_dir=ds, model_dir=run / "model", checkpoint_dir=run / "ckpt",
                model_params={**MODEL, **config["model"]}, train_params=tp, callbacks=[callback])  # fmt: skip
    except BudgetSpent:
        pass
    return snap, {"steps": callback.steps, "wall_s": round(callback.wall, 1), "cpu_s": round(callback.cpu, 1)}


def reused_snapshot(snap: Path, config: dict, budget: dict) -> tuple[Path, dict]:
    """The snapshot an earlier call trained in this folder, when it had the same budget (one saved before the budget
    was recorded is taken as it is); another budget's is refused, never evaluated under this one's name."""
    record = json.loads((snap / "model.json").read_text())
    if record.get("budget", budget) != budget:
        raise SystemExit(f"{snap} was trained with budget {record['budget']}, not {budget}: give another --out")
    if config.get("standing_statistics", True) and not record.get("standing_statistics"):
        standing_snapshot(snap, record, int(config["train"]["seed"]))  # saved before 2026-12-05
    return snap, {"steps": record["steps"], "wall_s": float("nan")}


def standing_snapshot(snap: Path, record: dict, seed: int) -> None:
    """Measure the BatchNorm statistics of a snapshot saved before quality.py did (its model.json does not say
    ``standing_statistics``) as its training would have at its end, and mark it: the same trained weights,
    rendered as today's training leaves them."""
    from audiowgan.nn.model_files import load_generator
    from audiowgan.nn.standing_stats import standing_statistics

    generator, _ = load_generator(snap, weights=WEIGHTS["ema"])
    standing_statistics(generator, noise_dim=record["noise_dim"], batch_size=BATCH, seed=seed)
    generator.save_weights(snap / WEIGHTS["ema"])
    (snap / "model.json").write_text(json.dumps({**record, "standing_statistics": True}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="wesnoth", help="wesnoth (orchestral), nexuiz (electronic) "
                    "or metal")  # fmt: skip
    ap.add_argument("--minutes", type=float, default=24.0, help="minutes of the corpus (a stable subset)")
    ap.add_argument("--budget", type=float, default=10.0, help="CPU minutes of training per configuration")
    ap.add_argument("--steps", type=int, default=0, help="steps of training per configuration instead of --budget "
                    "(0: --budget): the same training however loaded the machine is, which CPU minutes are not")  # fmt: skip
    ap.add_argument("--holdout", type=float, default=0.2, help="share of segments held out, by whole tracks")
    ap.add_argument("--clips", type=int, default=48, help="clips per compared set (at most half the held-out)")
    ap.add_argument("--pool", type=int, default=256, help="clips each set's mel FD is averaged over: the mean FD of "
                    f"{DRAWS} draws of --clips of them (one draw of 32 moves it 4-5x on the electronic corpus); 0: one "
                    "set of --clips, as before 2026-12-06")  # fmt: skip
    ap.add_argument("--embed", default="pool", choices=["pool", "first"], help="clips each set's embedding distances "
                    "see: pool (all of them; the KD, unbiased, from all, the FD over draws of --clips) or first (the "
                    "first --clips, as before 2026-12-06; a quarter of the evaluation time)")  # fmt: skip
    ap.add_argument(
        "--configs",
        default="0,22",
        help="comma-separated indices into CONFIGS (0: before, 2: the tanh output, 17: the peak norm, 22: today's)",
    )
    ap.add_argument("--holdout-by", default="auto", choices=["auto", "end-blocks"], help="evaluate.holdout_by")
    ap.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0: its default); 1 keeps CPU-time budgets "
                    "fairer when other work loads the machine (idle threads of a pool spin, and that counts), though "
                    "not equal: see --steps")  # fmt: skip
    ap.add_argument(
        "--embedders", default="crepe", help="comma-separated, from audiowgan.look.embedders (crepe, musicnn)"
    )
    ap.add_argument("--seed", type=int, default=0, help="train.seed of every configuration (weights, data order, "
                    "noise); the held-out split, the clips' latents and the noise rows stay seeded 0")  # fmt: skip
    ap.add_argument("--out", type=Path, default=Path("/tmp/audiowgan-quality"))
    args = ap.parse_args()
    out = args.out / args.corpus
    if args.threads:
        from audiowgan.nn import devices

        devices.configure_threads(args.threads)
    base = prepare(out, args.corpus, args.minutes, args.holdout, None, args.holdout_by)
    segments = out / "side-by-side" / "segments"
    held = HeldOut.open(base, segments, args.clips, args.pool)
    n, pool = held.n, held.pool
    print(f"held out: {held.meta['holdout']['reason']}", flush=True)
    copied = training_sample(base, n, pool)
    training_mels = np.asarray(held.mels[training_reference(base, copied)])

    def table_of(sets: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
        return distances(sets, held.reference_waves, held.reference_mels, held.meta, n, args.embedders.split(","),
                         training_mels, args.embed)  # fmt: skip

    key = baseline_key(vars(args), base)
    baselines = baseline_rows(base, key, lambda: table_of(baseline_sets(held, base, segments, copied)))
    sets: dict[str, np.ndarray] = {}
    runs = {}
    for i, name in config_names(args.configs):
        config = CONFIGS[name]
        ds = prepare(out, args.corpus, args.minutes, args.holdout, config["hop"], args.holdout_by,
                     config.get("n_mels", MEL.n_mels))  # fmt: skip
        run = out / run_name(config.get("renders", i), args.holdout_by, args.seed)  # the training's folder
        config = {**config, "train": {"seed": args.seed, **config["train"]}}
        snap, runs[name] = train_for_budget(ds, run, config, args.budget * 60, args.steps)
        rendered = snap if "renders" not in config else out / run_name(i, args.holdout_by, args.seed) / "snapshot"
        clips = [rendered / "clips" / clip_file(k) for k in range(pool)]
        clips[0].parent.mkdir(parents=True, exist_ok=True)
        generation.generate(model_dir=snap, dataset_meta=ds / "meta.json", clips=clips,
                            manifest=rendered / "manifest.csv", seed=1000, griffin_lim_iters=32, target_dbfs=-20,
                            weights=WEIGHTS[rendered_weights(config)],
                            temperature=config.get("temperature", 1.0))  # fmt: skip
        sets[name] = features.read_clips(clips, held.meta)
        print(f"{name}: {runs[name]['steps']} steps, {runs[name].get('cpu_s', float('nan')):.0f} CPU s "
              f"({runs[name]['wall_s']:.0f} s wall)", flush=True)  # fmt: skip
    table = {**baselines, **(table_of(sets) if sets else {})}
    report(table, runs, args, len(held.a_rows), n)
    record = {"args": vars(args) | {"out": str(args.out)}, "runs": runs, "table": table}
    path = out / f"quality-{args.holdout_by}{seed_tag(args.seed)}.json"
    path.write_text(json.dumps(merge_earlier(path, record), indent=2))


@dataclass(frozen=True)
class HeldOut:
    """The held-out segments of a prepared dataset as every set is compared with them: half A (the reference, its
    waves and mels) and half B (real vs real): ``n`` rows of it drawn, all seeded 0, then the rest of it, the pool its
    mel FD is drawn from; pink noise of a pool of clips."""

    mels: np.ndarray
    meta: dict
    n: int
    pool: int
    a_rows: np.ndarray
    b_rows: np.ndarray
    reference_waves: np.ndarray
    reference_mels: np.ndarray
    real_waves: np.ndarray
    pink_waves: np.ndarray

    @classmethod
    def open(cls, base: Path, segments: Path, clips: int, pool: int = 0) -> HeldOut:
        mels, meta = dataset.open_dataset(base)
        a_rows, b_half = evaluation.split_halves(dataset.split_rows(base, "heldout"), 0)
        n = min(clips, len(b_half))
        drawn = evaluation.compared_rows(b_half, n, seed=0)
        b_rows = np.concatenate([drawn, np.setdiff1d(b_half, drawn)]) if pool else drawn
        pool = max(n, pool)
        return cls(mels, meta, n, pool, a_rows, b_rows, evaluation.segment_waves(base, segments, a_rows),
                   np.asarray(mels[a_rows]), evaluation.segment_waves(base, segments, b_rows),
                   evaluation.noise_waves("pink", n=pool, length=AUDIO.segment_samples, seed=0))  # fmt: skip


def baseline_sets(held: HeldOut, base: Path, segments: Path, copied: np.ndarray) -> dict[str, np.ndarray]:
    """The sets every configuration is read against: real vs real (half B), white and pink noise, the inversion
    ceiling and the training copy (rows ``copied``)."""
    return {
        REAL: held.real_waves,
        "white noise": evaluation.noise_waves("white", n=held.pool, length=AUDIO.segment_samples, seed=0),
        PINK: held.pink_waves,
        CEILING: inversion_ceiling(np.asarray(held.mels[held.b_rows])),
        TRAINING: evaluation.segment_waves(base, segments, copied),
    }


# The baseline sets' rows depend on the prepared dataset and these arguments alone, not on the seed, the budget or the
# configurations; they were five sixths of a one-configuration call's evaluation, so calls that agree on them share one
# computation, kept beside the dataset. BASELINES_VERSION changes when a change to the distances moves these rows.
BASELINES, BASELINES_VERSION = "quality-baselines.json", 1
BASELINE_SETUP = ("corpus", "minutes", "holdout", "clips", "pool", "embed", "holdout_by", "embedders")


def baseline_key(args: dict, base: Path) -> dict:
    """What the baseline rows of a call with ``args`` on the dataset ``base`` depend on: its arguments in
    ``BASELINE_SETUP``, the number of draws, the code's version and the dataset's index (a dataset prepared again from
    other audio has another)."""
    index = hashlib.sha256((base / "index.csv").read_bytes()).hexdigest()
    return {**{k: args[k] for k in BASELINE_SETUP}, "draws": DRAWS, "version": BASELINES_VERSION, "index": index}


def cached_baselines(base: Path, key: dict) -> dict | None:
    """The baseline rows an earlier call saved beside ``base`` under ``key``; None when there are none for this setup
    (delete the file to recompute them)."""
    return next((setup["rows"] for setup in saved_setups(base) if setup["key"] == key), None)


def baseline_rows(base: Path, key: dict, compute: Callable[[], dict]) -> dict:
    """The baseline rows saved beside ``base`` under ``key``, or else ``compute()``'s, saved there for the next call."""
    rows = cached_baselines(base, key)
    if rows is not None:
        print(f"real, noise, ceiling and training-copy rows: from {base / BASELINES}", flush=True)
        return rows
    rows = compute()
    save_baselines(base, key, rows)
    return rows


def saved_setups(base: Path) -> list[dict]:
    """Every setup's {"key", "rows"} in the file beside ``base``, so that a call of another setup (a smoke test with
    fewer clips) does not cost the next call of the first its rows; a file from before it kept several holds one."""
    path = base / BASELINES
    if not path.exists():
        return []
    saved = json.loads(path.read_text())
    return saved.get("setups", [saved])


def save_baselines(base: Path, key: dict, rows: dict) -> None:
    """Add ``key``'s rows to the file beside ``base`` (replacing that setup's); written whole and then renamed, since
    calls on one dataset run side by side. Not ``audiowgan.core.atomic.write_json``: its temporary name is the same for
    every writer, and two calls finishing together would write into one temporary file."""
    setups = [setup for setup in saved_setups(base) if setup["key"] != key] + [{"key": key, "rows": rows}]
    part = base / f"{BASELINES}.{os.getpid()}"
    part.write_text(json.dumps({"setups": setups}, indent=2))
    part.replace(base / BASELINES)


# What an argument added since was, in effect, in calls made before it
UNSET = {"steps": 0, "pool": 0, "embed": "first"}
# What a call's rows depend on besides its configuration: rows of calls that agree on all of it compare
SAME_SETUP = ("corpus", "minutes", "budget", "steps", "holdout", "clips", "pool", "embed", "holdout_by", "embedders",
              "seed")  # fmt: skip


def merge_earlier(path: Path, record: dict) -> dict:
    """``record`` plus the rows of the configurations in an earlier call's file at ``path`` that this call did not
    run (and that ``CONFIGS`` still names), so seeds trained in several calls keep every row for quality_seeds;
    ``record`` alone when that call measured another setup (``SAME_SETUP``)."""
    if not path.exists():
        return record
    earlier = json.loads(path.read_text())
    if any(earlier["args"].get(k, UNSET.get(k)) != record["args"][k] for k in SAME_SETUP):
        print(f"{path.name} held another setup's rows: replaced", flush=True)
        return record
    kept = [name for name in earlier["runs"] if name in CONFIGS and name not in record["runs"]]
    return {
        **record,
        "runs": {**{name: earlier["runs"][name] for name in kept}, **record["runs"]},
        "table": {**record["table"], **{name: earlier["table"][name] for name in kept}},
    }


def config_names(configs: str) -> list[tuple[int, str]]:
    """(index, ``CONFIGS`` name) of each index in ``--configs`` ("2,17"; "" for none), in its order."""
    names = list(CONFIGS)
    return [(int(k), names[int(k)]) for k in configs.split(",") if k]


def seed_tag(seed: int) -> str:
    """'' for seed 0 (the folders and files of runs made before --seed existed), else '-seed<N>'."""
    return f"-seed{seed}" if seed else ""


def run_name(index: int, holdout_by: str, seed: int) -> str:
    """Folder of configuration ``index``'s run under the corpus folder."""
    return f"config-{index}" + ("" if holdout_by == "auto" else f"-{holdout_by}") + seed_tag(seed)


def training_sample(ds: Path, n: int, pool: int = 0) -> np.ndarray:
    """``n`` training rows drawn with seed 0 (sorted), then, up to ``pool`` rows but never past half the training
    rows, more drawn with seed 1: a model that copied its training set perfectly. The other half at least stays for
    :func:`training_reference` (with a few minutes of audio a pool of 256 would take every training row)."""
    rows = dataset.split_rows(ds, "train")
    first = np.sort(np.random.default_rng(0).choice(rows, size=min(n, len(rows)), replace=False))
    rest = np.setdiff1d(rows, first)
    size = max(min(pool, len(rows) // 2) - len(first), 0)
    more = np.random.default_rng(1).choice(rest, size=size, replace=False)
    return np.concatenate([first, np.sort(more)])


def training_reference(ds: Path, copied: np.ndarray) -> np.ndarray:
    """Every training row outside ``copied`` (the training-copy row's): the reference of the mel FD against training
    music, which the copy row is then compared with like any set. All of them, not a draw: with a few tracks, which
    segments a draw of a few hundred holds moves the distances by more than the configurations differ."""
    return np.setdiff1d(dataset.split_rows(ds, "train"), copied)


def mel_at(n_mels: int) -> MelSpec:
    """``MEL`` with ``n_mels`` bands: the mels of a configuration that sets them (its "n_mels")."""
    return MelSpec.from_mapping(**{**MEL.to_dict(), "n_mels": n_mels})


def inversion_ceiling(real_mels: np.ndarray, griffin_lim_iters: int = 32, mel: MelSpec = MEL) -> np.ndarray:
    """Real held-out mels (of ``mel``'s settings) through the same inversion and loudness as the clips: the best a
    perfect generator scores."""
    waves = generation.Inverter(AUDIO, mel, griffin_lim_iters=griffin_lim_iters, method="fast", workers=2)(real_mels)
    return np.stack([audio.normalise_loudness(w, target_dbfs=-20) for w in waves])


def distances(
    sets, reference_waves, reference_mels, meta, n, embedders=("crepe",), training_mels=None, embed="pool"
) -> dict[str, dict[str, float]]:
    """{set: {mel_fd, mel_fd_p10, mel_fd_p90, <embedder>_fd, <embedder>_kd..., spread_between, spread_within}}
    against the reference (half A of the held-out segments), and ``mel_fd_training`` against ``training_mels`` where
    given (mels of training segments). Each set's mel FDs are means over draws of ``n`` of all its clips
    (:func:`fd_of_draws`), its embedding distances as :func:`embedding_distances` with ``embed``; its first ``n``
    clips give its spreads (``metrics.clip_spread``)."""
    perceptual = {
        e: embedding_distances(embedder_modules.module(e), reference_waves, sets, n, embed) for e in embedders
    }
    reference = gaussian_fit(reference_mels)
    training = None if training_mels is None else gaussian_fit(training_mels)
    table = {}
    for name, waves in sets.items():
        mels = features.waves_mels(waves, meta)
        mean, p10, p90 = fd_of_draws(mels, reference, n)
        table[name] = {
            "mel_fd": mean,
            "mel_fd_p10": p10,
            "mel_fd_p90": p90,
            **{f"{e}_{k}": v for e in embedders for k, v in zip(("fd", "kd"), perceptual[e][name])},
            **{f"spread_{k}": v for k, v in metrics.clip_spread(mels[:n]).items()},
        }
        if training is not None:
            table[name]["mel_fd_training"] = fd_of_draws(mels, training, n)[0]
    return table


def embedding_distances(embedder, reference_waves, sets, n: int, embed: str = "pool") -> dict[str, tuple]:
    """{set: (FD, KD)} of each set's frame embeddings (``embedder.clip_embeddings``) to the reference's, from all of
    the set's clips (``embed="pool"``) or its first ``n`` (``"first"``, as before 2026-12-06). The kernel distance
    is unbiased whatever the number of frames, so it takes every clip given, and its spread shrinks with them (with
    32 clips musicnn's gap moved 25-73% over three seeds); the Frechet distance is biased by the number, so it is the
    mean over draws of ``n`` clips (:func:`fd_of_draws`), as the mel FD. (None, None) where either side has fewer than
    2 embedding rows."""
    ref = embedder.clip_embeddings(reference_waves, sample_rate=AUDIO.sample_rate)
    reference = gaussian_fit(ref.T[None])  # every reference frame, fitted as the frames of one clip
    out = {}
    for name, waves in sets.items():
        waves = waves if embed == "pool" else waves[:n]
        emb = embedder.clip_embeddings(waves, sample_rate=AUDIO.sample_rate)
        if min(len(emb), len(ref)) < 2:  # musicnn gives one row per short clip
            out[name] = (None, None)
            continue
        by_clip = emb.reshape(len(waves), -1, emb.shape[-1]).transpose(0, 2, 1)  # (clips, features, frames) as mels
        out[name] = (fd_of_draws(by_clip, reference, n)[0], metrics.kernel_distance(emb, ref, seed=0))
    return out


def gaussian_fit(mels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and covariance of a set's mel frames, as ``metrics.frechet_distance`` fits them."""
    frames = metrics.mel_frame_stats(mels)
    return frames.mean(axis=0), np.atleast_2d(np.cov(frames, rowvar=False))


def fd_of_draws(mels: np.ndarray, reference: tuple, n: int, draws: int = DRAWS) -> tuple[float, ...]:
    """The mean, 10th and 90th percentile of the mel FD to ``reference`` (:func:`gaussian_fit`) of ``draws`` sets of
    ``n`` of ``mels`` (seeded 0), or the FD of ``mels`` itself when it holds ``n``. One set's FD depends on which
    clips it holds: on the electronic corpus a draw of 32 real segments moves it 4-5x, more than configurations
    differ; the mean over draws from a pool does not, and keeps the bias of ``n`` clips that every row shares."""
    if len(mels) <= n:
        fd = metrics.gaussian_frechet_distance(*gaussian_fit(mels), *reference)
        return fd, fd, fd
    rng = np.random.default_rng(0)
    fds = [
        metrics.gaussian_frechet_distance(*gaussian_fit(mels[rng.choice(len(mels), n, replace=False)]), *reference)
        for _ in range(draws)
    ]
    return float(np.mean(fds)), float(np.percentile(fds, 10)), float(np.percentile(fds, 90))


def x_training(table: dict, name: str) -> float:
    """Set ``name``'s mel FD to training segments over the training-copy row's (1 = as close as other training
    segments; the training music's own floor, as real-vs-real is the held-out music's)."""
    return table[name]["mel_fd_training"] / table[TRAINING]["mel_fd_training"]


def gap_closed(table: dict, name: str, embedder: str) -> float:
    """How much of the way from pink noise (0) to real-vs-real (1) set ``name``'s kernel distance has come."""
    real, pink, kd = table[REAL], table[PINK], f"{embedder}_kd"
    return (pink[kd] - table[name][kd]) / (pink[kd] - real[kd])


# Each set's clip spreads (metrics.clip_spread): its key in the table, and its column over real-vs-real's (here and in
# quality_seeds.py); rows of earlier calls may lack them, and their cells stay empty.
SPREADS = {"spread_between": "clips differ x real", "spread_within": "each clip moves x real"}


def spread(row: dict) -> str:
    """A row's mel FD over draws, 10th to 90th percentile ('' in a row of a call made before the draws)."""
    return f"{row['mel_fd_p10']:.3f}-{row['mel_fd_p90']:.3f}" if "mel_fd_p10" in row else ""


def budget_words(args) -> str:
    return f"{args.steps} steps" if args.steps else f"{args.budget:g} CPU minutes"


def report(table, runs, args, n_reference: int, n: int) -> None:
    real = table[REAL]
    embedders = args.embedders.split(",")
    print(f"\n{args.corpus}, {args.minutes:g} minutes; reference: {n_reference} held-out segments (half A); {n} clips "
          f"of {AUDIO.segment_seconds} s per set; {budget_words(args)} of training per configuration\n")  # fmt: skip
    heads = [f"{e} {x}" for e in embedders for x in ("FD", "KD", "KD gap closed")] + list(SPREADS.values())
    heads.append("mel FD x training")
    print("| set | steps | mel FD | x real | draws p10-p90 | " + " | ".join(heads) + " |\n" + "|---" * (5 + len(heads))
          + "|")  # fmt: skip
    for name, d in table.items():
        cells = []
        for e in embedders:
            cells += [f"{d[f'{e}_fd']:.3f}", f"{d[f'{e}_kd']:.4f}", f"{100 * gap_closed(table, name, e):.0f}%"]
        cells += [f"{d[k] / real[k]:.2f}" if k in d and k in real else "" for k in SPREADS]
        cells.append(f"{x_training(table, name):.2f}" if "mel_fd_training" in d else "")
        steps = runs.get(name, {}).get("steps", "")
        print(
            f"| {name} | {steps} | {d['mel_fd']:.3f} | {d['mel_fd'] / real['mel_fd']:.2f} | {spread(d)} | "
            + " | ".join(cells)
            + " |"
        )


if __name__ == "__main__":
    main()
