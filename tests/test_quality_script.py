"""benchmarks/quality.py keeps the rows of earlier calls with the same seed and setup in its JSON, and
quality_seeds.py compares the configurations asked for against the first of them."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import quality  # noqa: E402  (the benchmarks are scripts, not a package)
import quality_seeds  # noqa: E402

NAMES = list(quality.CONFIGS)
ARGS = {"corpus": "wesnoth", "minutes": 24.0, "budget": 8.0, "holdout": 0.2, "clips": 32,
        "holdout_by": "end-blocks", "embedders": "crepe", "seed": 1, "configs": "2", "threads": 1, "steps": 0, "pool": 256,
        "embed": "pool"}  # fmt: skip


def call(configs, **args):
    table = {quality.REAL: {"mel_fd": 1.0}, **{NAMES[i]: {"mel_fd": float(i)} for i in configs}}
    return {"args": {**ARGS, **args}, "runs": {NAMES[i]: {"steps": i} for i in configs}, "table": table}


def test_a_later_call_adds_its_rows_to_those_of_an_earlier_one(tmp_path):
    path = tmp_path / "quality-end-blocks-seed1.json"
    earlier = call([2, 17])
    earlier["runs"]["a configuration renamed since"] = {"steps": 0}
    earlier["table"]["a configuration renamed since"] = {"mel_fd": 9.0}
    del earlier["args"]["steps"]  # written before --steps: a CPU budget
    path.write_text(json.dumps(earlier))
    merged = quality.merge_earlier(path, call([17, 18], threads=2))  # threads only spread the CPU time
    assert list(merged["runs"]) == [NAMES[2], NAMES[17], NAMES[18]]
    assert list(merged["table"]) == [quality.REAL, NAMES[17], NAMES[18], NAMES[2]]
    assert merged["args"]["threads"] == 2


@pytest.mark.parametrize(
    "change", [{"clips": 48}, {"embedders": "crepe,musicnn"}, {"budget": 10.0}, {"steps": 800}, {"pool": 0}]
)
def test_rows_of_another_setup_are_replaced_not_mixed(tmp_path, change):
    path = tmp_path / "quality-end-blocks-seed1.json"
    path.write_text(json.dumps(call([2])))
    assert quality.merge_earlier(path, call([17], **change)) == call([17], **change)


def test_without_an_earlier_file_the_record_is_written_as_it_is(tmp_path):
    assert quality.merge_earlier(tmp_path / "none.json", call([17])) == call([17])


def test_quality_seeds_compares_the_configurations_asked_for_the_first_the_baseline(tmp_path):
    for seed in (0, 1):
        (tmp_path / f"quality-end-blocks-seed{seed}.json").write_text(json.dumps(call([2, 17, 18], seed=seed)))
    names = quality_seeds.trained_names(quality_seeds.load_runs(tmp_path, "end-blocks"))
    assert quality_seeds.chosen(names, "") == [NAMES[2], NAMES[17], NAMES[18]]
    assert quality_seeds.chosen(names, "17,18") == [NAMES[17], NAMES[18]]
    with pytest.raises(SystemExit, match="not trained with every seed"):
        quality_seeds.chosen(names, "17,19")


def test_seed_scores_hold_the_clip_spreads_where_a_record_has_them_and_a_spread_nearer_real_wins():
    real = {"mel_fd": 1.0, "crepe_kd": 0.0, "spread_between": 0.2, "spread_within": 0.1}
    pink = {"mel_fd": 10.0, "crepe_kd": 1.0}
    table = {quality.REAL: real, quality.PINK: pink, "new": {"mel_fd": 2.0, "crepe_kd": 0.5, "spread_between": 0.1,
             "spread_within": 0.15}, "old": {"mel_fd": 2.0, "crepe_kd": 0.5}}  # fmt: skip
    assert quality_seeds.scores(table, "new", ["crepe"]) == pytest.approx(
        {"mel FD x real": 2.0, "crepe gap closed": 0.5, "clips differ x real": 0.5, "each clip moves x real": 1.5}
    )
    assert list(quality_seeds.scores(table, "old", ["crepe"])) == ["mel FD x real", "crepe gap closed"]
    better = quality_seeds.better
    assert list(better("clips differ x real", np.array([0.8, 1.3, 0.5]), np.array([0.7, 1.2, 1.5]))) == [1, 0, 0]
    assert list(better("mel FD x real", np.array([1.1]), np.array([1.2]))) == [1]
    assert list(better("crepe gap closed", np.array([0.5]), np.array([0.6]))) == [0]


def test_the_training_reference_is_every_training_row_but_the_copied_ones(monkeypatch):
    monkeypatch.setattr(quality.dataset, "split_rows", lambda ds, split: np.arange(40) if split == "train" else None)
    copied = quality.training_sample(Path("ds"), 8)
    ref = quality.training_reference(Path("ds"), copied)
    assert list(ref) == sorted(set(range(40)) - set(copied)) and len(ref) == 32  # every other training row


def test_seed_scores_put_the_mel_fd_to_training_music_over_the_training_copys_and_lower_wins():
    table = {quality.REAL: {"mel_fd": 1.0, "crepe_kd": 0.0}, quality.PINK: {"mel_fd": 10.0, "crepe_kd": 1.0},
             quality.TRAINING: {"mel_fd": 3.0, "crepe_kd": 0.0, "mel_fd_training": 0.5},
             "new": {"mel_fd": 2.0, "crepe_kd": 0.5, "mel_fd_training": 0.75}}  # fmt: skip
    assert quality_seeds.scores(table, "new", ["crepe"]) == pytest.approx(
        {"mel FD x real": 2.0, "mel FD x training": 1.5, "crepe gap closed": 0.5}
    )
    assert list(quality_seeds.better("mel FD x training", np.array([1.4, 1.6]), np.array([1.5, 1.5]))) == [1, 0]


def test_a_configuration_that_renders_another_ones_snapshot_trains_as_that_one():
    rendering = {"renders", "temperature"}  # what may differ: how the snapshot is rendered
    renderers = {name: c for name, c in quality.CONFIGS.items() if "renders" in c}
    assert renderers
    for name, config in renderers.items():
        trained = quality.CONFIGS[NAMES[config["renders"]]]
        assert "renders" not in trained, name
        assert {k: v for k, v in config.items() if k not in rendering} == {
            k: v for k, v in trained.items() if k not in rendering
        }, name


def test_a_step_budget_trains_that_many_steps_and_a_snapshot_of_another_budget_is_refused(tmp_path, monkeypatch):
    from test_training import make_dataset

    monkeypatch.setattr(quality, "BATCH", 4)
    ds = make_dataset(tmp_path / "dataset", n=8)
    config = {"model": {"generator_channels": [8, 4], "critic_channels": [4, 8]}, "train": {"seed": 0}, "hop": None}
    snap, run = quality.train_for_budget(ds, tmp_path / "run", config, cpu_seconds=60.0, steps=3)
    assert run["steps"] == 3 and json.loads((snap / "model.json").read_text())["budget"] == {"steps": 3}
    assert quality.train_for_budget(ds, tmp_path / "run", config, cpu_seconds=60.0, steps=3)[1]["steps"] == 3
    with pytest.raises(SystemExit, match="trained with budget {'steps': 3}, not {'steps': 5}"):
        quality.train_for_budget(ds, tmp_path / "run", config, cpu_seconds=60.0, steps=5)


def test_the_mel_fd_of_a_pool_is_the_mean_over_draws_and_of_a_set_of_n_its_own():
    rng = np.random.default_rng(0)
    reference = rng.normal(0.0, 1.0, (20, 4, 6))
    pool = np.concatenate([rng.normal(0.0, 1.0, (30, 4, 6)), rng.normal(3.0, 1.0, (10, 4, 6))])  # a quarter louder
    plain = quality.metrics.frechet_distance(
        quality.metrics.mel_frame_stats(pool[:8]), quality.metrics.mel_frame_stats(reference)
    )
    fit = quality.gaussian_fit(reference)
    assert quality.fd_of_draws(pool[:8], fit, 8) == pytest.approx((plain, plain, plain))
    mean, p10, p90 = quality.fd_of_draws(pool, fit, 8)
    assert quality.fd_of_draws(pool, fit, 8) == (mean, p10, p90)  # seeded
    assert p10 < mean < p90  # which 8 a draw holds moves it: the quiet ones alone, or several loud ones
    whole = quality.metrics.frechet_distance(
        quality.metrics.mel_frame_stats(pool), quality.metrics.mel_frame_stats(reference)
    )
    assert mean > whole  # a set of 8 keeps the upward bias of few frames that every row shares


def test_the_training_copy_pool_starts_with_the_rows_of_a_set_of_n_and_never_repeats_one(monkeypatch):
    monkeypatch.setattr(quality.dataset, "split_rows", lambda ds, split: np.arange(100))
    pool = quality.training_sample(Path("ds"), 8, 40)
    assert list(pool[:8]) == list(quality.training_sample(Path("ds"), 8)) and len(set(pool)) == 40


class FrameStats:
    """A stand-in for an embedder module (``clip_embeddings``): each clip's frames of 100 samples, as (mean, std,
    peak) rows, clip after clip, as CREPE's frames are."""

    @staticmethod
    def clip_embeddings(waves, *, sample_rate):
        frames = np.asarray(waves, dtype=np.float64).reshape(len(waves), -1, 100)
        return np.stack([frames.mean(-1), frames.std(-1), np.abs(frames).max(-1)], axis=-1).reshape(-1, 3)


def test_embedding_kd_comes_from_every_clip_of_the_pool_and_fd_from_draws_of_n():
    rng = np.random.default_rng(0)
    reference = rng.normal(0.0, 1.0, (20, 400))
    pool = np.concatenate([rng.normal(0.0, 1.0, (30, 400)), rng.normal(0.0, 3.0, (10, 400))])  # a quarter louder
    ref, emb = FrameStats.clip_embeddings(reference, sample_rate=1), FrameStats.clip_embeddings(pool, sample_rate=1)
    fd, kd = quality.embedding_distances(FrameStats, reference, {"set": pool}, 8, embed="pool")["set"]
    assert kd == pytest.approx(quality.metrics.kernel_distance(emb, ref, seed=0))
    by_clip = emb.reshape(40, 4, 3).transpose(0, 2, 1)  # draws take whole clips, each with its 4 frames
    assert fd == pytest.approx(quality.fd_of_draws(by_clip, quality.gaussian_fit(ref.T[None]), 8)[0])


def test_embedding_distances_of_the_first_n_clips_are_those_the_benchmark_gave_before_the_pool():
    rng = np.random.default_rng(1)
    reference, pool = rng.normal(0.0, 1.0, (20, 400)), rng.normal(0.5, 1.0, (40, 400))
    ref, first = (FrameStats.clip_embeddings(w, sample_rate=1) for w in (reference, pool[:8]))
    fd, kd = quality.embedding_distances(FrameStats, reference, {"set": pool}, 8, embed="first")["set"]
    assert fd == pytest.approx(quality.metrics.frechet_distance(first, ref))
    assert kd == pytest.approx(quality.metrics.kernel_distance(first, ref, seed=0))


def test_the_baseline_rows_are_reused_by_a_call_of_the_same_setup_whatever_its_seed_budget_or_configs(tmp_path):
    base = tmp_path / "dataset"
    base.mkdir()
    (base / "index.csv").write_text("row,track\n0,a\n")
    rows = {quality.REAL: {"mel_fd": 1.0}, quality.PINK: {"mel_fd": 10.0}}
    args = dict(ARGS)
    quality.save_baselines(base, quality.baseline_key(args, base), rows)
    for change in ({"seed": 3}, {"budget": 4.0}, {"steps": 400}, {"configs": "27,33"}, {"threads": 2}):
        assert quality.cached_baselines(base, quality.baseline_key({**args, **change}, base)) == rows


@pytest.mark.parametrize("change", [{"clips": 48}, {"embedders": "crepe,musicnn"}, {"pool": 0}, {"embed": "first"},
                                    {"minutes": 12.0}, {"holdout_by": "auto"}])  # fmt: skip
def test_the_baseline_rows_of_another_setup_or_another_split_are_not_reused(tmp_path, change):
    base = tmp_path / "dataset"
    base.mkdir()
    (base / "index.csv").write_text("row,track\n0,a\n")
    quality.save_baselines(base, quality.baseline_key(ARGS, base), {quality.REAL: {"mel_fd": 1.0}})
    assert quality.cached_baselines(base, quality.baseline_key({**ARGS, **change}, base)) is None
    (base / "index.csv").write_text("row,track\n0,b\n")  # the dataset prepared again, from other audio
    assert quality.cached_baselines(base, quality.baseline_key(ARGS, base)) is None


def test_without_a_cache_file_there_are_no_baseline_rows(tmp_path):
    (tmp_path / "index.csv").write_text("row\n")
    assert quality.cached_baselines(tmp_path, quality.baseline_key(ARGS, tmp_path)) is None


def test_baseline_rows_are_computed_once_and_then_read_back(tmp_path):
    (tmp_path / "index.csv").write_text("row\n")
    key, calls = quality.baseline_key(ARGS, tmp_path), []

    def compute():
        calls.append(1)
        return {quality.REAL: {"mel_fd": 1.0}}

    assert quality.baseline_rows(tmp_path, key, compute) == quality.baseline_rows(tmp_path, key, compute)
    assert calls == [1]


def test_the_training_copy_leaves_half_the_training_rows_as_the_reference_when_there_are_few(monkeypatch):
    monkeypatch.setattr(quality.dataset, "split_rows", lambda ds, split: np.arange(40))
    copied = quality.training_sample(Path("ds"), 8, 256)  # 8 minutes of audio: fewer training rows than the pool
    assert len(copied) == 20 and list(copied[:8]) == list(quality.training_sample(Path("ds"), 8))
    assert len(quality.training_reference(Path("ds"), copied)) == 20


def test_a_call_of_another_setup_keeps_the_rows_of_the_first(tmp_path):
    # a smoke test with other --clips on a shared dataset must not make the real runs compute theirs again
    (tmp_path / "index.csv").write_text("row\n")
    smoke = {**ARGS, "clips": 8, "pool": 16}
    quality.save_baselines(tmp_path, quality.baseline_key(ARGS, tmp_path), {quality.REAL: {"mel_fd": 1.0}})
    quality.save_baselines(tmp_path, quality.baseline_key(smoke, tmp_path), {quality.REAL: {"mel_fd": 2.0}})
    quality.save_baselines(tmp_path, quality.baseline_key(smoke, tmp_path), {quality.REAL: {"mel_fd": 3.0}})
    assert quality.cached_baselines(tmp_path, quality.baseline_key(ARGS, tmp_path)) == {quality.REAL: {"mel_fd": 1.0}}
    assert quality.cached_baselines(tmp_path, quality.baseline_key(smoke, tmp_path)) == {quality.REAL: {"mel_fd": 3.0}}
    assert len(json.loads((tmp_path / quality.BASELINES).read_text())["setups"]) == 2


def test_a_cache_file_of_one_setup_written_before_several_were_kept_is_still_read(tmp_path):
    (tmp_path / "index.csv").write_text("row\n")
    key = quality.baseline_key(ARGS, tmp_path)
    (tmp_path / quality.BASELINES).write_text(json.dumps({"key": key, "rows": {quality.REAL: {"mel_fd": 1.0}}}))
    assert quality.cached_baselines(tmp_path, key) == {quality.REAL: {"mel_fd": 1.0}}
