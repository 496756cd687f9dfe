"""benchmarks/inversion_ceiling.py: real audio through another number of mel bands and back, as its ceiling rows are."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import inversion_ceiling  # noqa: E402  (the benchmarks are scripts, not a package)
import quality  # noqa: E402
from test_inversion import chord  # noqa: E402

from audiowgan.dsp import audio  # noqa: E402
from audiowgan.dsp import mel as features  # noqa: E402

META = {**quality.AUDIO.to_dict(), **quality.MEL.to_dict()}  # what a quality dataset's meta.json holds


def chords(n: int) -> np.ndarray:
    """``n`` clips of the benchmark's length: test_inversion's chord, each with its own phases and noise."""
    return np.stack([chord(quality.AUDIO.segment_seconds, seed) for seed in range(n)])


def test_the_ceiling_at_a_band_count_is_audio_of_the_same_length_at_the_clips_loudness():
    real = chords(2)
    out = inversion_ceiling.ceiling_at_bands(real, META, 32)
    assert out.shape == real.shape and np.all(np.isfinite(out))
    # quality.py's clips are rendered at -20 dBFS too
    np.testing.assert_allclose([audio.rms_dbfs(clip) for clip in out], -20.0, atol=0.5)


def test_up_to_the_benchmarks_bands_more_bands_bring_real_audio_back_closer_to_its_own_mels():
    real = chords(3)
    own = features.waves_mels(real, META)  # the benchmark compares every set in MEL's 64 bands
    error = [np.abs(features.waves_mels(inversion_ceiling.ceiling_at_bands(real, META, n), META) - own).mean()
             for n in (16, 32, 64)]  # fmt: skip
    assert error[0] > error[1] > error[2]  # here 0.11, 0.08, 0.02 of the [-1, 1] scale


def test_each_snapshot_row_names_its_configuration_seed_and_iterations():
    assert inversion_ceiling.snapshot_set(30, 1, 64) == "config 30 seed 1, 64 iterations"
