"""The experiments' comparison table (audiowgan.look.compare), from metrics.json files shaped as evaluate writes them."""

from __future__ import annotations

import math

import pytest

from audiowgan.look import compare

BASELINE_KEYS = ("real_vs_real", "noise_vs_real", "white_noise_vs_real", "pink_noise_vs_real")


def metrics(generated_mel: float, spread: dict | None, *, musicnn: bool = True) -> dict:
    """A run's metrics.json: real vs real 1.0 and pink noise 5.0 mel FD; CREPE KD 0.001 real, 0.005 pink."""
    mel = dict(zip(BASELINE_KEYS, (1.0, 9.0, 6.0, 5.0)), generated=generated_mel)
    crepe_kd = dict(zip(BASELINE_KEYS, (0.001, 0.009, 0.007, 0.005)), generated=0.002)
    perceptual = {"crepe": {"frechet": dict.fromkeys(mel, 0.5), "kernel": crepe_kd}}
    if musicnn:
        perceptual["musicnn"] = {"frechet": dict.fromkeys(mel, 2.0),
                                 "kernel": dict(zip(BASELINE_KEYS, (1.0, 9.0, 7.0, 5.0)), generated=4.0)}  # fmt: skip
    return {"frechet_distance": mel, "perceptual": perceptual, "clip_spread": spread}


SPREAD = {
    "generated": {"between": 0.2, "within": 0.3},
    "real_vs_real": {"between": 0.1, "within": 0.4},
    "generated_over_real": {"between": 2.0, "within": 0.75},
}


def test_runs_show_both_embeddings_gaps_and_their_clip_spreads_over_real():
    table = compare.distance_table({"base": metrics(2.0, SPREAD), "wide": metrics(3.0, None)}, {"base": 10, "wide": 7})
    rows = table.set_index("set")
    base, wide, real, pink = rows.loc["base"], rows.loc["wide"], rows.iloc[0], rows.iloc[3]
    assert base.x_real == 2.0 and wide.x_real == 3.0 and base.steps == 10
    assert base.kd_gap_closed == pytest.approx(0.75)  # (0.005 - 0.002) / (0.005 - 0.001)
    assert base.musicnn_gap_closed == pytest.approx(0.25)  # (5 - 4) / (5 - 1)
    assert (base.clips_differ, base.clip_moves) == (2.0, 0.75)
    assert math.isnan(wide.clips_differ) and math.isnan(wide.clip_moves)  # one clip: evaluate wrote no spreads
    assert (real.clips_differ, real.clip_moves, real.kd_gap_closed, pink.kd_gap_closed) == (1.0, 1.0, 1.0, 0.0)
    assert math.isnan(pink.clips_differ)  # metrics.json holds no spreads of noise


def test_the_page_and_markdown_print_every_column_and_leave_missing_ones_blank():
    table = compare.distance_table({"base": metrics(2.0, SPREAD, musicnn=False)}, {"base": 10})
    md = compare.markdown(table).splitlines()
    assert md[0] == "| set | " + " | ".join(compare.HEADS) + " |"
    assert md[-1] == "| base | 10 | 2.000 | 2.00 | 0.500 | 0.0020 | 75% |  |  | 2.00 | 0.75 |"
    assert len(compare.cells(next(table.itertuples()))) == len(compare.HEADS)


def test_a_metrics_file_from_before_musicnn_still_reads_its_crepe_entry():
    old = metrics(2.0, SPREAD, musicnn=False)
    old["perceptual"] = old["perceptual"]["crepe"]  # a bare CREPE entry
    del old["clip_spread"]
    row = compare.distance_table({"base": old}, {"base": 1}).iloc[4]
    assert row.kd_gap_closed == pytest.approx(0.75) and math.isnan(row.musicnn_kd) and math.isnan(row.clips_differ)
