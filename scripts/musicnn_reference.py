"""Run the ORIGINAL musicnn code on a fixed input and store its outputs as the rebuild's test fixture.

``audiowgan.nn.musicnn`` rebuilds musicnn's network in Keras 3 and reads the wheel's TF1
checkpoints. This script runs the wheel's own ``musicnn.extractor.extractor`` (TF1 graph mode,
``tf.compat.v1.layers``) on :func:`reference_audio`, a deterministic 5-s clip, for both models
at a 3-s window and a 1-s hop, and writes ``tests/data/musicnn_reference.npz``: the
``penultimate`` embeddings and tag probabilities of the three windows, every 16th unit of
``mean_pool`` and ``max_pool``, and the SHA-256 of the input (so the test knows it regenerated
the same audio). ``tests/test_musicnn.py`` compares the rebuild with it; the test suite itself
needs neither tf-keras nor the TF1 path.

The original needs ``tf.compat.v1.layers``, which TensorFlow 2.21 provides only through tf-keras
with ``TF_USE_LEGACY_KERAS=1`` (set here before TensorFlow is imported). Install tf-keras
outside the shared environment, so nothing else sees it, and rerun::

    .venv/bin/uv pip install --target /tmp/tf-keras --no-deps tf-keras==2.21.0
    PYTHONPATH=workflow/scripts .venv/bin/python scripts/musicnn_reference.py --site /tmp/tf-keras

It takes about a minute on two cores (most of it importing TensorFlow and building the graphs).
musicnn's extractor reads a file: the clip is written as a 32-bit float WAV at 16 kHz, which
``librosa.load`` reads back bit for bit without resampling.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "data" / "musicnn_reference.npz"
MODELS = ("MSD_musicnn", "MTT_musicnn")
SAMPLE_RATE = 16000
SECONDS = 5.0
HOP_SECONDS = 1.0  # musicnn's input_overlap: the distance between window starts
POOL_STRIDE = 16  # every 16th of the 753 pooled features is stored: 48 a window, to keep the file small


def reference_audio() -> np.ndarray:
    """A deterministic 5-s music-like clip at 16 kHz, float32: chords, bass, kick and hi-hat.

    Closed-form apart from the hi-hat's noise (numpy's PCG64 stream, seed 0). Scaled to -30 dBFS
    RMS, where no mel band's power reaches the float16 overflow of musicnn's log compression.
    """
    sr = SAMPLE_RATE
    t = np.arange(int(SECONDS * sr)) / sr
    out = np.zeros_like(t)
    chords = ((57, 60, 64), (53, 57, 60), (55, 59, 62), (52, 55, 59))  # Am F G Em, MIDI notes
    for i, chord in enumerate(chords):
        on = (t >= 1.25 * i) & (t < 1.25 * (i + 1))
        local = t[on] - 1.25 * i
        for note in chord:
            f = 440.0 * 2 ** ((note - 69) / 12)
            for h in range(1, 6):
                out[on] += 0.08 / h * np.exp(-local / 1.5) * np.sin(2 * np.pi * f * h * local)
        bass = 440.0 * 2 ** ((chord[0] - 24 - 69) / 12)
        out[on] += 0.2 * np.exp(-(local % 0.625) / 0.3) * np.sin(2 * np.pi * bass * local)
    beat = t % 0.5
    out += 0.25 * np.exp(-beat / 0.1) * np.sin(2 * np.pi * (50 + 80 * np.exp(-beat / 0.03)) * beat)  # kick
    eighth = t % 0.25
    noise = np.diff(np.random.default_rng(0).standard_normal(len(t) + 1))  # bright: differenced noise
    out += 0.05 * np.exp(-eighth / 0.03) * noise  # hi-hat
    out *= 10 ** (-30 / 20) / np.sqrt(np.mean(out**2))
    return out.astype(np.float32)


def digest(wave: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(wave, dtype=np.float32).tobytes()).hexdigest()


def run_original(wav: Path) -> dict[str, np.ndarray]:
    """musicnn's extractor on ``wav`` for both models: {"<model>/<output>": array}."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"  # tf.compat.v1.layers needs tf-keras; before TensorFlow loads
    from musicnn import configuration
    from musicnn.extractor import extractor  # disables eager execution for this process

    # musicnn 0.1.0's extractor runs BATCH_SIZE windows at a time and, for every batch after the
    # first, appends the first batch's penultimate and cnn1-3 again (its loop unpacks those outputs
    # into other names): with its default of 1, every window gets window 0's penultimate. One batch
    # holding all windows avoids the bug; the network's outputs do not depend on the batch.
    configuration.BATCH_SIZE = 64
    out = {}
    for model in MODELS:
        taggram, _, features = extractor(str(wav), model=model, input_length=3, input_overlap=HOP_SECONDS)
        out[f"{model}/tags"] = taggram.astype(np.float32)
        out[f"{model}/penultimate"] = features["penultimate"].astype(np.float32)
        for pool in ("mean_pool", "max_pool"):
            out[f"{model}/{pool}"] = features[pool][:, ::POOL_STRIDE].astype(np.float32)
    return out


def versions() -> dict[str, str]:
    import importlib.metadata

    names = ("musicnn", "tf-keras", "tensorflow-cpu", "tensorflow", "librosa", "numpy", "soxr")
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="a folder holding tf_keras (pip install --target)")
    parser.add_argument("--out", type=Path, default=FIXTURE, help=f"default: {FIXTURE.relative_to(REPO)}")
    args = parser.parse_args(argv)
    if args.site:
        sys.path.insert(0, str(args.site.resolve()))
        os.environ["PYTHONPATH"] = os.pathsep.join([str(args.site.resolve()), os.environ.get("PYTHONPATH", "")])
    import importlib.util

    if importlib.util.find_spec("tf_keras") is None:
        sys.exit("tf_keras is not importable: see this script's docstring (--site)")
    import soundfile

    wave = reference_audio()
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "reference.wav"
        soundfile.write(wav, wave, SAMPLE_RATE, subtype="FLOAT")
        outputs = run_original(wav)
    for name, value in outputs.items():
        if not np.all(np.isfinite(value)):
            sys.exit(f"the original's {name} is not finite: the input overflowed musicnn's float16 compression")
    meta = {"sha256": digest(wave), "hop_seconds": HOP_SECONDS, "pool_stride": POOL_STRIDE, "versions": versions()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, meta=np.array(json.dumps(meta)), **outputs)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes): {json.dumps(meta)}")
    for model in MODELS:
        print(model, "windows x dims:", outputs[f"{model}/penultimate"].shape)


if __name__ == "__main__":
    main()
