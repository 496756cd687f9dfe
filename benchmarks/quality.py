"""Does the model learn real music? Distances to held-out real recordings, against noise, at a fixed budget.

Real recordings: Debian's ``wesnoth-1.16-music`` (orchestral, see ``real_corpus.py``), a stable
subset of ``--minutes`` minutes. They go through the workflow's own library code (segment, mel,
pack with whole tracks held out, train, generate, evaluate); Snakemake is left out so that the
whole budget goes to training. For each generator upsampling mode (``resize``, ``transpose``)
one training run of ``--epochs`` epochs is made; the generator is snapshot after epoch 1 and at
the end, raw and moving-average (EMA) weights, and each snapshot renders ``n`` clips (Griffin-Lim,
as ``generate``). Every set is compared with half A of the held-out segments:

- ``mel FD``: Frechet distance of mel frames (the workflow's ``frechet_distance.generated``);
- ``CREPE FD`` and ``CREPE KD``: Frechet and unbiased kernel distance of CREPE-tiny frame
  embeddings (``perceptual``), with the same reference;

next to half B of the held-out segments (real vs real, the floor) and white and pink noise at the
clips' loudness (what a model that learnt nothing but loudness or spectral tilt scores).

    nice .venv/bin/python benchmarks/quality.py [--minutes 24] [--epochs 12] [--out /tmp/quality]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "workflow" / "scripts"), str(ROOT / "benchmarks")]

from audiowgan import audio, dataset, evaluation, features, generation, metrics  # noqa: E402
from audiowgan.settings import AudioSpec, MelSpec, TrainSpec  # noqa: E402

AUDIO = AudioSpec.from_mapping(sample_rate=16000, segment_seconds=2.0)
MEL = MelSpec.from_mapping(n_fft=1024, hop_length=256, n_mels=64)
MODEL = {"noise_dim": 64, "generator_channels": [128, 64, 32, 16], "critic_channels": [16, 32, 64]}  # demo.yaml


def prepare(out: Path, minutes: float, holdout: float) -> Path:
    """Segments, mels and the packed dataset of the corpus subset (reused when already there)."""
    from real_corpus import audio_files

    ds = out / "dataset"
    if (ds / "meta.json").exists():
        return ds
    mel_dirs = {}
    for path in audio_files(max_minutes=minutes):
        track = path.stem.replace(".", "_")
        seg, mel = out / "segments" / track, out / "mel" / track
        audio.segment_track(path, {"status": "ok", "reason": ""}, seg, **AUDIO.to_dict())
        features.mel_directory(seg, mel, spec=MEL, threads=2)
        mel_dirs[track] = mel
    meta = dataset.pack(mel_dirs, ds, holdout_fraction=holdout)
    print(f"dataset: {meta['n_segments']} segments of {AUDIO.segment_seconds} s from {meta['tracks']} tracks; "
          f"{meta['n_heldout']} held out ({meta['holdout']['by']}: {', '.join(meta['holdout']['tracks'])})",
          flush=True)  # fmt: skip
    return ds


def train_with_snapshots(ds: Path, run: Path, upsample: str, epochs: int, ema_decay: float) -> dict[int, Path]:
    """Train one model; return {epoch: snapshot dir} for epoch 1 and the last (raw and EMA weights each)."""
    from audiowgan import training as T

    snaps = {1: run / "epoch_001", epochs: run / f"epoch_{epochs:03d}"}

    class Snapshot(T.Callback):
        def on_epoch_end(self, loop, epoch, rows):
            if epoch + 1 in snaps:
                d = snaps[epoch + 1]
                d.mkdir(parents=True, exist_ok=True)
                loop.state.generator.save_weights(d / "generator.weights.h5")
                loop.state.extra["generator_ema"].save_weights(d / "generator_ema.weights.h5")
                (d / "model.json").write_text(json.dumps({**loop.mp.to_dict(), "input_shape": list(loop.data.shape),
                                                          "steps": loop.step}))  # fmt: skip

    tp = TrainSpec.from_mapping(epochs=epochs, batch_size=16, checkpoint_every=10**6, ema_decay=ema_decay)
    t = time.perf_counter()
    T.train(dataset_dir=ds, model_dir=run / "model", checkpoint_dir=run / "ckpt", model_params={**MODEL,
            "upsample": upsample}, train_params=tp, callbacks=[Snapshot()])  # fmt: skip
    print(f"{upsample}: {epochs} epochs in {time.perf_counter() - t:.0f} s", flush=True)
    return snaps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=24.0, help="minutes of the corpus (a stable subset)")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--ema-decay", type=float, default=0.999)
    ap.add_argument("--holdout", type=float, default=0.2, help="share of segments held out, by whole tracks")
    ap.add_argument("--clips", type=int, default=48, help="clips per compared set (at most half the held-out)")
    ap.add_argument("--modes", default="resize,transpose")
    ap.add_argument("--out", type=Path, default=Path("/tmp/audiowgan-quality"))
    args = ap.parse_args()
    ds = prepare(args.out, args.minutes, args.holdout)
    mels, meta = dataset.open_dataset(ds)
    a_rows, b_rows = evaluation.split_halves(dataset.split_rows(ds, "heldout"), 0)
    n = min(args.clips, len(b_rows))
    reference_waves = evaluation.segment_waves(ds, args.out / "segments", a_rows)
    reference_mels = np.asarray(mels[a_rows])
    sr, length = AUDIO.sample_rate, AUDIO.segment_samples
    sets: dict[str, np.ndarray] = {
        "real vs real (held-out half B)": evaluation.segment_waves(ds, args.out / "segments", b_rows[:n]),
        "white noise": evaluation.noise_waves("white", n=n, length=length, seed=0),
        "pink noise": evaluation.noise_waves("pink", n=n, length=length, seed=0),
    }
    for mode in args.modes.split(","):
        snaps = train_with_snapshots(ds, args.out / mode, mode, args.epochs, args.ema_decay)
        for epoch, d in sorted(snaps.items()):
            for weights in ("generator.weights.h5", "generator_ema.weights.h5"):
                clips = [d / weights.split(".")[0] / f"clip_{i:03d}.wav" for i in range(n)]
                clips[0].parent.mkdir(parents=True, exist_ok=True)
                generation.generate(model_dir=d, dataset_meta=ds / "meta.json", clips=clips, manifest=clips[0].parent /
                                    "manifest.csv", seed=1000, griffin_lim_iters=32, target_dbfs=-20, weights=weights)  # fmt: skip
                name = f"{mode}, epoch {epoch}, {'EMA' if 'ema' in weights else 'raw'}"
                sets[name] = evaluation.read_clips(clips, meta)
    t = time.perf_counter()
    perceptual = evaluation.perceptual_distances(reference_waves, sets, sample_rate=sr, seed=0)
    print(f"\nreference: {len(a_rows)} held-out segments (half A); {n} clips of {AUDIO.segment_seconds} s per set; "
          f"distances computed in {time.perf_counter() - t:.0f} s\n")  # fmt: skip
    print("| set | mel FD | CREPE FD | CREPE KD |\n|---|---|---|---|")
    for name, waves in sets.items():
        mel_fd = metrics.frechet_distance(metrics.mel_frame_stats(evaluation.waves_mels(waves, meta)),
                                          metrics.mel_frame_stats(reference_mels))  # fmt: skip
        print(f"| {name} | {mel_fd:.3f} | {perceptual['frechet'][name]:.3f} | {perceptual['kernel'][name]:.4f} |")


if __name__ == "__main__":
    main()
