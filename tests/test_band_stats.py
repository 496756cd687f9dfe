"""Per-band statistics of the training mels (model.critic_band_norm) and rows read from the file."""

from __future__ import annotations

import numpy as np
import pytest

from audiowgan.data import band_stats as B
from audiowgan.data.rows import read_rows


@pytest.fixture
def memmap(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.uniform(-1, 1, (40, 6, 9)).astype(np.float32)
    data[:, 5] = -1.0  # a band that never changes (a low-pass source): its std is floored
    np.save(tmp_path / "mels.npy", data)
    return np.load(tmp_path / "mels.npy", mmap_mode="r"), data


def test_read_rows_is_fancy_indexing_without_the_mapping(memmap):
    mm, data = memmap
    rows = np.array([7, 2, 39, 2])
    assert np.array_equal(read_rows(mm, rows), data[rows]) and np.array_equal(read_rows(data, rows), data[rows])


def test_band_stats_are_numpys_over_the_given_rows_only(memmap, monkeypatch):
    mm, data = memmap
    monkeypatch.setattr(B, "CHUNK", 3)  # several chunks
    rows = np.arange(0, 40, 2)
    mean, std = B.band_stats(mm, rows[::-1])
    np.testing.assert_allclose(mean, data[rows].mean(axis=(0, 2)), atol=1e-6)
    np.testing.assert_allclose(std[:5], data[rows][:, :5].std(axis=(0, 2)), rtol=1e-5)
    assert std[5] == B.MIN_STD and mean[5] == pytest.approx(-1.0)


def test_band_stats_sample_evenly_past_max_rows(memmap):
    mm, data = memmap
    mean, _ = B.band_stats(mm, np.arange(40), max_rows=5)
    picked = np.linspace(0, 39, 5).round().astype(int)
    np.testing.assert_allclose(mean, data[picked].mean(axis=(0, 2)), atol=1e-6)


def test_band_stats_of_no_rows_is_a_clear_error(memmap):
    with pytest.raises(ValueError, match="no training segments"):
        B.band_stats(memmap[0], np.array([], dtype=int))
