"""Training loop: smoke run, determinism, resume after a real SIGTERM, NaN stop, fingerprint mismatch."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import h5py
import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow  # noqa: F401 - a hard dependency: a broken install fails the suite, never skips it

from audiowgan.core.settings import ConfigError, ModelSpec, TrainSpec  # noqa: E402
from audiowgan.nn import batches, callbacks, devices, model_files, objective  # noqa: E402
from audiowgan.nn import model as M  # noqa: E402
from audiowgan.nn import train as T  # noqa: E402
from audiowgan.nn.standing_stats import standing_statistics  # noqa: E402
from audiowgan.nn.state import make_optimizer  # noqa: E402
from audiowgan.nn.step import WGANGP  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHAPE = (16, 12)  # n_mels, frames: non-square, not a multiple of the strides
MODEL = {
    "noise_dim": 4,
    "generator_channels": [8, 4],
    "critic_channels": [4, 8],
    "generator_kernel_size": 3,
    "critic_kernel_size": 3,
}
TRAIN = {"epochs": 2, "batch_size": 4, "d_steps": 2, "gp_weight": 10.0, "learning_rate": 0.001, "beta_1": 0.5,
         "beta_2": 0.9, "seed": 3, "checkpoint_every": 2, "mixed_precision": False, "xla": False}  # fmt: skip
LOSSES = ["d_loss", "g_loss", "gradient_penalty", "wasserstein"]


def make_dataset(path: Path, n: int = 12, shape=SHAPE) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    mels = np.lib.format.open_memmap(path / "mels.npy", mode="w+", dtype=np.float32, shape=(n, *shape))
    mels[:] = np.tanh(rng.standard_normal((n, *shape))).astype(np.float32)
    mels.flush()
    del mels
    pd.DataFrame({"row": range(n), "track": "t", "segment": [f"{i:05d}" for i in range(n)]}).to_csv(
        path / "index.csv", index=False
    )
    meta = {"n_mels": shape[0], "frames": shape[1], "n_segments": n, "sample_rate": 8000, "hop_length": 64}
    (path / "meta.json").write_text(json.dumps(meta))
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("ds") / "dataset")


def run(dataset, root: Path, log=None, **train_overrides) -> dict:
    return T.train(dataset_dir=dataset, model_dir=root / "model", checkpoint_dir=root / "checkpoints",
                   model_params=MODEL, train_params={**TRAIN, **train_overrides}, log=log)  # fmt: skip


def weights(path: Path) -> dict[str, np.ndarray]:
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def assert_same_weights(a: Path, b: Path) -> None:
    for name in ("generator.weights.h5", "critic.weights.h5"):
        wa, wb = weights(a / name), weights(b / name)
        assert wa.keys() == wb.keys() and wa
        for k in wa:
            assert np.array_equal(wa[k], wb[k]), f"{name}:{k} differs"


@pytest.fixture(scope="module")
def reference_run(dataset, tmp_path_factory):
    """One uninterrupted run, shared by the tests that compare against it."""
    root = tmp_path_factory.mktemp("reference")
    spec = run(dataset, root)
    return root, spec


def test_smoke_run_writes_outputs_and_losses(reference_run):
    root, spec = reference_run
    model_dir = root / "model"
    losses = pd.read_csv(model_dir / "losses.csv")
    assert list(losses.columns) == ["epoch", "step", "d_loss", "g_loss", "gradient_penalty", "wasserstein", "seconds"]
    assert losses["step"].tolist() == list(range(1, 7))  # 12 // 4 = 3 steps per epoch, 2 epochs
    assert losses["epoch"].tolist() == [1, 1, 1, 2, 2, 2]
    assert np.isfinite(losses[LOSSES].to_numpy()).all()
    assert losses["seconds"].is_monotonic_increasing
    on_disk = json.loads((model_dir / "model.json").read_text())
    assert on_disk == json.loads(json.dumps(spec))
    assert (
        on_disk["input_shape"] == list(SHAPE) and on_disk["steps"] == 6 and on_disk["dataset_meta"]["n_segments"] == 12
    )
    assert not list(model_dir.glob(".*tmp*")), "temporary files left behind"
    generator, loaded = model_files.load_generator(model_dir)
    assert loaded["noise_dim"] == 4
    assert tuple(generator(np.zeros((2, 4), np.float32)).shape) == (2, *SHAPE, 1)


def test_fixed_seed_gives_identical_runs(dataset, reference_run, tmp_path):
    run(dataset, tmp_path)
    a = pd.read_csv(reference_run[0] / "model" / "losses.csv")
    b = pd.read_csv(tmp_path / "model" / "losses.csv")
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"), check_exact=True)
    assert_same_weights(reference_run[0] / "model", tmp_path / "model")


def test_data_order_is_a_function_of_seed_and_epoch():
    a = batches.batch_order(10, 3, seed=1, epoch=0)
    assert a.shape == (3, 3) and len(set(a.ravel())) == 9  # last partial batch dropped
    assert np.array_equal(a, batches.batch_order(10, 3, seed=1, epoch=0))
    assert not np.array_equal(a, batches.batch_order(10, 3, seed=1, epoch=1))
    mm = np.arange(40, dtype=np.float32).reshape(10, 2, 2)
    assert np.array_equal(batches.read_batch(mm, np.array([7, 2, 5]))[..., 0], mm[[7, 2, 5]])


def test_an_epoch_yields_the_batches_of_its_order_from_the_start_asked_for(dataset):
    data = batches.TrainingData.open(dataset, batch_size=4)
    order = data.rows[batches.batch_order(len(data.rows), 4, seed=3, epoch=1)]
    ds = data.epoch(1, seed=3, start=1)
    assert ds.element_spec.shape == (4, *SHAPE, 1)  # static: the step is traced once
    got = [b.numpy() for b in ds]
    assert len(got) == len(order) - 1
    for rows, batch in zip(order[1:], got):
        assert np.array_equal(batch, batches.read_batch(data.mels, rows))
    assert list(data.epoch(1, seed=3, start=len(order))) == []  # a run stopped at the epoch's end resumes there
    assert ds.options().autotune.enabled is False  # a new epoch's iterator waited for the tuning thread's wake-up


def test_reading_the_training_input_leaves_the_process_malloc_settings_alone(dataset):
    # tf.data's generator dataset sets glibc's M_TRIM_THRESHOLD for the whole process (and logs it), which turns
    # off malloc's adaptive mmap threshold: every later step then maps and unmaps its large tensors afresh, and the
    # demo's float32 step took twice as long (docs/training-log.md).
    code = (
        f"from audiowgan.nn import batches; [b for b in batches.TrainingData.open({str(dataset)!r}, batch_size=4)"
        ".epoch(0, seed=0)]; print('read')"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0", "PYTHONPATH": str(REPO / "workflow" / "scripts")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "read" in out.stdout, out.stderr[-2000:]
    assert "M_TRIM_THRESHOLD" not in out.stderr


def test_batch_larger_than_dataset_is_a_clear_error(dataset, tmp_path):
    with pytest.raises(ValueError, match=r"train.batch_size=16.*N=12"):
        run(dataset, tmp_path, batch_size=16)


CHILD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from audiowgan.nn import train as T
    from audiowgan.nn.step import WGANGP
    args = json.loads(sys.argv[1])
    original = WGANGP.step
    done = [0]
    def slow_step(self, real):
        out = original(self, real)
        done[0] += 1
        Path(args["marker"]).write_text(str(done[0]))
        time.sleep(0.5)  # a window for the parent's SIGTERM between steps
        return out
    WGANGP.step = slow_step
    T.train(dataset_dir=args["dataset"], model_dir=args["model"], checkpoint_dir=args["ckpt"],
            model_params=args["model_params"], train_params=args["train_params"])
    """
)


def test_resume_after_sigterm_equals_an_uninterrupted_run(dataset, tmp_path, caplog):
    params = {**TRAIN, "epochs": 3, "checkpoint_every": 4}  # 9 steps; killed mid-epoch, between checkpoints
    marker = tmp_path / "steps_done"
    args = {"dataset": str(dataset), "model": str(tmp_path / "model"), "ckpt": str(tmp_path / "checkpoints"),
            "marker": str(marker), "model_params": MODEL, "train_params": params}  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO / "workflow" / "scripts")}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(args)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (marker.exists() and marker.read_text() and int(marker.read_text()) >= 5):
            assert proc.poll() is None, f"child ended early: {proc.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, "child too slow"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0, "an interrupted training must fail the job"
    assert "TrainingInterrupted" in err and "SIGTERM" in err
    stopped = int(marker.read_text())
    assert 5 <= stopped < 9 and stopped != 8
    assert not (tmp_path / "model" / "generator.weights.h5").exists()

    with caplog.at_level(logging.INFO):
        T.train(dataset_dir=dataset, model_dir=tmp_path / "model", checkpoint_dir=tmp_path / "checkpoints",
                model_params=MODEL, train_params=params, log=logging.getLogger("resume-test"))  # fmt: skip
    assert "resuming from" in caplog.text and f"at step {stopped}" in caplog.text

    ref = tmp_path / "uninterrupted"
    T.train(dataset_dir=dataset, model_dir=ref / "model", checkpoint_dir=ref / "checkpoints", model_params=MODEL,
            train_params=params)  # fmt: skip
    assert_same_weights(ref / "model", tmp_path / "model")
    a = pd.read_csv(ref / "model" / "losses.csv")
    b = pd.read_csv(tmp_path / "model" / "losses.csv")
    assert b["step"].tolist() == list(range(1, 10))  # every step exactly once
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"), check_exact=True)
    assert b["seconds"].is_monotonic_increasing


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(dataset, tmp_path, monkeypatch):
    original = WGANGP.step
    calls = [0]

    def poisoned(self, real):
        out = original(self, real)
        calls[0] += 1
        return {**out, "d_loss": float("nan")} if calls[0] == 3 else out

    monkeypatch.setattr(WGANGP, "step", poisoned)
    with pytest.raises(FloatingPointError, match=r"step 3.*checkpoint \(step 2\)"):
        run(dataset, tmp_path)
    saved = sorted(p.name for p in (tmp_path / "checkpoints" / "ckpt").glob("*.index"))
    assert saved == ["ckpt-2.index"]
    # No weights; the live losses.csv (flushed every step) holds the two good steps.
    assert not list((tmp_path / "model").glob("*.h5")) and not (tmp_path / "model" / "model.json").exists()
    assert pd.read_csv(tmp_path / "model" / "losses.csv")["step"].tolist() == [1, 2]


def test_fingerprint_mismatch_starts_fresh_and_more_epochs_continue(dataset, tmp_path, caplog):
    log = logging.getLogger("fp-test")
    with caplog.at_level(logging.INFO):
        run(dataset, tmp_path, log=log, epochs=1)
        assert "starting fresh" in caplog.text
        caplog.clear()
        run(dataset, tmp_path, log=log, epochs=2)  # epochs are not fingerprinted: training continues
        assert "resuming from" in caplog.text and "at step 3" in caplog.text
        assert pd.read_csv(tmp_path / "model" / "losses.csv")["step"].tolist() == list(range(1, 7))
        caplog.clear()
        run(dataset, tmp_path, log=log, epochs=1, gp_weight=5.0)  # a different config: never resumed into
        assert "different config, dataset or network layout" in caplog.text and "resuming" not in caplog.text
    losses = pd.read_csv(tmp_path / "model" / "losses.csv")
    assert losses["step"].tolist() == [1, 2, 3]
    assert json.loads((tmp_path / "model" / "model.json").read_text())["train_params"]["gp_weight"] == 5.0


def test_one_step_gives_finite_losses_and_moves_both_networks():
    import tensorflow as tf

    g = M.build_generator(noise_dim=4, channels=[8, 4], output_shape=SHAPE, kernel_size=3)
    c = M.build_critic(channels=[4, 8], input_shape=SHAPE, kernel_size=3)
    tp = TrainSpec.from_mapping(TRAIN)
    gan = WGANGP(g, c, make_optimizer(tp), make_optimizer(tp), tf.random.Generator.from_seed(0),
                   noise_dim=4, d_steps=2, gp_weight=10.0)  # fmt: skip
    before = [v.numpy().copy() for v in g.trainable_variables + c.trainable_variables]
    out = gan.step(tf.zeros((4, *SHAPE, 1)))
    assert set(out) == set(LOSSES) and all(np.isfinite(v) for v in out.values())
    after = [v.numpy() for v in g.trainable_variables + c.trainable_variables]
    assert all(not np.array_equal(a, b) for a, b in zip(before, after) if a.size > 1)
    assert int(gan.d_opt.iterations) == 2 and int(gan.g_opt.iterations) == 1


@pytest.mark.parametrize("gp_every, penalised", [(1, [True, True]), (2, [False, True])])
def test_lazy_penalty_on_the_last_of_every_k_critic_updates_at_k_times_the_weight(monkeypatch, gp_every, penalised):
    import tensorflow as tf

    traced = []  # which critic updates compute the penalty, once per trace of the step
    penalty = objective.gradient_penalty
    monkeypatch.setattr(objective, "gradient_penalty", lambda *args: traced.append(True) or penalty(*args))
    losses = objective.critic_losses
    monkeypatch.setattr(objective, "critic_losses", lambda *a, **k: traced.append(False) or losses(*a, **k))
    g = M.build_generator(noise_dim=4, channels=[8, 4], output_shape=SHAPE, kernel_size=3)
    c = M.build_critic(channels=[4, 8], input_shape=SHAPE, kernel_size=3)
    tp = TrainSpec.from_mapping(TRAIN)
    gan = WGANGP(g, c, make_optimizer(tp), make_optimizer(tp), tf.random.Generator.from_seed(0),
                 noise_dim=4, d_steps=2, gp_weight=10.0, gp_every=gp_every)  # fmt: skip
    real = tf.random.stateless_uniform((4, *SHAPE, 1), seed=(1, 2), minval=-1, maxval=1)
    out = gan.step(real)
    # each critic update (False) followed by its penalty (True) when it computes one
    updates = [nxt for flag, nxt in zip(traced, [*traced[1:], False]) if not flag]
    assert len(updates) >= 2 and updates == penalised * (len(updates) // 2)
    assert int(gan.d_opt.iterations) == 2
    assert out["gradient_penalty"] > 0  # the update returned, the last, is penalised
    expected = -out["wasserstein"] + 10.0 * gp_every * out["gradient_penalty"]
    assert out["d_loss"] == pytest.approx(expected, rel=1e-5)


def test_lazy_penalty_must_divide_the_critic_updates_and_resumes_exactly(dataset, tmp_path):
    with pytest.raises(ConfigError, match=r"'train.gp_every' = 2 must divide train.d_steps = 3.*try 1, 3"):
        TrainSpec.from_mapping(d_steps=3, gp_every=2)
    assert_resumes_exactly_and_trains_otherwise(dataset, tmp_path, gp_every=2)


def assert_resumes_exactly_and_trains_otherwise(dataset, tmp_path, **setting):
    """Two epochs with ``setting`` in one run and in two (resumed) end with the same weights, with finite losses
    that differ from a run without it."""
    run(dataset, tmp_path / "a", epochs=2, **setting)
    run(dataset, tmp_path / "b", epochs=1, **setting)
    run(dataset, tmp_path / "b", epochs=2, **setting)
    assert_same_weights(tmp_path / "a" / "model", tmp_path / "b" / "model")
    run(dataset, tmp_path / "without", epochs=2)
    a, without = (pd.read_csv(tmp_path / d / "model" / "losses.csv") for d in ("a", "without"))
    assert np.isfinite(a[LOSSES].to_numpy()).all() and not np.allclose(a["d_loss"], without["d_loss"])


def test_mode_seeking_needs_two_examples_a_batch_and_resumes_exactly(dataset, tmp_path):
    with pytest.raises(ConfigError, match=r"'train.mode_seeking' = 1.0 compares the two halves of a batch"):
        TrainSpec.from_mapping(TRAIN, batch_size=1, mode_seeking=1.0)
    assert TrainSpec.from_mapping(TRAIN, batch_size=1).mode_seeking == 0.0  # off, a batch of one trains as before
    assert_resumes_exactly_and_trains_otherwise(dataset, tmp_path, mode_seeking=1.0)
    four_gpus = devices.Runtime([], "float32", SimpleNamespace(num_replicas_in_sync=4))  # a share of 1 each
    tp, mp = TrainSpec.from_mapping(TRAIN, batch_size=4, mode_seeking=1.0), ModelSpec.from_mapping(MODEL)
    with pytest.raises(ValueError, match=r"train.batch_size=4 must be at least 2 times the 4 GPUs"):
        T.check_batch_shares(mp, tp, four_gpus)
    T.check_batch_shares(mp, TrainSpec.from_mapping(TRAIN, batch_size=8, mode_seeking=1.0), four_gpus)


def test_the_critic_learns_at_its_own_rate_and_resumes_exactly(dataset, tmp_path):
    tp = TrainSpec.from_mapping(TRAIN, critic_learning_rate="0.004")  # as --config hands it over
    critic, generator = make_optimizer(tp, critic=True), make_optimizer(tp)
    rates = float(critic.learning_rate), float(generator.learning_rate)  # float32 variables
    assert rates == pytest.approx((0.004, 0.001), rel=1e-6)
    same = TrainSpec.from_mapping(TRAIN)  # null: the write-up's one rate
    assert float(make_optimizer(same, critic=True).learning_rate) == float(make_optimizer(same).learning_rate)
    assert_resumes_exactly_and_trains_otherwise(dataset, tmp_path, critic_learning_rate=0.004)


def test_held_out_rows_are_never_trained_on(tmp_path):
    ds = make_dataset(tmp_path / "dataset", n=12)
    mels = np.load(ds / "mels.npy", mmap_mode="r+")
    mels[[3, 7]] = np.nan  # reading either row would make the losses NaN and stop training
    mels.flush()
    index = pd.read_csv(ds / "index.csv")
    index["split"] = ["heldout" if r in (3, 7) else "train" for r in index["row"]]
    index.to_csv(ds / "index.csv", index=False)
    run(ds, tmp_path)
    losses = pd.read_csv(tmp_path / "model" / "losses.csv")
    assert len(losses) == TRAIN["epochs"] * (10 // TRAIN["batch_size"])
    assert np.isfinite(losses[LOSSES].to_numpy()).all()


def test_mixed_precision_on_cpu_trains_and_restores_the_policy(dataset, tmp_path):
    policy = devices.precision_policy(True, gpu=False)
    assert policy in {"mixed_bfloat16", "float32"}  # bfloat16 only where the CPU has it
    run(dataset, tmp_path, mixed_precision=True)
    losses = pd.read_csv(tmp_path / "model" / "losses.csv")
    assert np.isfinite(losses[LOSSES].to_numpy()).all()
    assert keras.mixed_precision.global_policy().name == "float32"
    assert all(w.dtype == np.float32 for w in weights(tmp_path / "model" / "generator.weights.h5").values())
    assert (
        devices.precision_policy(True, gpu=True) == "mixed_float16"
        and devices.precision_policy(False, gpu=True) == "float32"
    )


@pytest.mark.parametrize("upsample", ["resize", "transpose"])
def test_both_upsample_modes_train(dataset, tmp_path, upsample):
    run(dataset, tmp_path, epochs=1)  # default model: resize
    T.train(dataset_dir=dataset, model_dir=tmp_path / "m2", checkpoint_dir=tmp_path / "c2",
            model_params={**MODEL, "upsample": upsample}, train_params={**TRAIN, "epochs": 1})  # fmt: skip
    losses = pd.read_csv(tmp_path / "m2" / "losses.csv")
    assert len(losses) == 3 and np.isfinite(losses[LOSSES].to_numpy()).all()
    assert json.loads((tmp_path / "m2" / "model.json").read_text())["upsample"] == upsample


def test_ema_weights_differ_from_raw_and_resume_exactly(dataset, tmp_path):
    root_a, root_b = tmp_path / "a", tmp_path / "b"
    params = {**TRAIN, "ema_decay": 0.9}
    T.train(dataset_dir=dataset, model_dir=root_a / "model", checkpoint_dir=root_a / "ck", model_params=MODEL,
            train_params={**params, "epochs": 3})  # fmt: skip
    T.train(dataset_dir=dataset, model_dir=root_b / "model", checkpoint_dir=root_b / "ck", model_params=MODEL,
            train_params={**params, "epochs": 1})  # fmt: skip
    T.train(dataset_dir=dataset, model_dir=root_b / "model", checkpoint_dir=root_b / "ck", model_params=MODEL,
            train_params={**params, "epochs": 3})  # resumed at step 3 of 9  # fmt: skip
    ema_a, ema_b = (
        weights(root_a / "model" / "generator_ema.weights.h5"),
        weights(root_b / "model" / "generator_ema.weights.h5"),
    )
    assert ema_a.keys() == ema_b.keys() and all(np.array_equal(ema_a[k], ema_b[k]) for k in ema_a)
    raw = weights(root_a / "model" / "generator.weights.h5")
    assert raw.keys() == ema_a.keys()
    assert any(not np.array_equal(raw[k], ema_a[k]) for k in raw)
    g_ema, _ = model_files.load_generator(root_a / "model", weights="generator_ema.weights.h5")
    g_raw, _ = model_files.load_generator(root_a / "model")
    z = np.random.default_rng(0).standard_normal((2, MODEL["noise_dim"])).astype(np.float32)
    assert not np.allclose(g_ema(z, training=False), g_raw(z, training=False))


def test_the_moving_average_renders_with_its_own_batchnorm_statistics(dataset, tmp_path):
    run(dataset, tmp_path, epochs=1, ema_decay=0.9)
    g_ema, _ = model_files.load_generator(tmp_path / "model", weights="generator_ema.weights.h5")
    saved = [w.numpy() for w in g_ema.non_trainable_weights]
    raw = [w.numpy() for w in model_files.load_generator(tmp_path / "model")[0].non_trainable_weights]
    assert saved and all(not np.allclose(a, b) for a, b in zip(saved, raw))  # not the raw generator's
    standing_statistics(g_ema, noise_dim=MODEL["noise_dim"], batch_size=TRAIN["batch_size"], seed=TRAIN["seed"])
    assert all(np.allclose(a, w.numpy()) for a, w in zip(saved, g_ema.non_trainable_weights))  # its own


def test_ema_decay_zero_is_the_raw_generator(dataset, tmp_path):
    run(dataset, tmp_path, epochs=1, ema_decay=0.0)
    raw, ema = (
        weights(tmp_path / "model" / "generator.weights.h5"),
        weights(tmp_path / "model" / "generator_ema.weights.h5"),
    )
    assert all(np.array_equal(raw[k], ema[k]) for k in raw)


def test_losses_csv_is_live_and_tensorboard_has_scalars_and_images(dataset, tmp_path, monkeypatch, caplog):
    import tensorflow as tf

    seen = []
    original = WGANGP.step

    def watching(self, real):  # what `tail -f` sees before each step
        seen.append(len(pd.read_csv(tmp_path / "model" / "losses.csv")))
        return original(self, real)

    monkeypatch.setattr(WGANGP, "step", watching)
    monkeypatch.setattr(callbacks, "PROGRESS_SECONDS", 0.0)
    with caplog.at_level(logging.INFO):
        T.train(dataset_dir=dataset, model_dir=tmp_path / "model", checkpoint_dir=tmp_path / "ck", model_params=MODEL,
                train_params={**TRAIN, "tensorboard_image_every": 4}, tensorboard_dir=tmp_path / "tb",
                log=logging.getLogger("tb-test"))  # fmt: skip
    assert seen == list(range(6))  # every finished step is on disk before the next one starts
    assert "steps/s, ETA 0:00:" in caplog.text
    # The epoch-time estimate, from the steps after the traced first one (6 steps: 3 per epoch).
    assert "s/step on this machine, so one epoch (3 steps) takes about 0:00:" in caplog.text
    assert "and the 3 steps left about" in caplog.text
    scalars, images = {}, []
    for event_file in sorted((tmp_path / "tb").glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            for value in event.summary.value:
                if value.tag.startswith("generated/"):
                    images.append(event.step)
                else:
                    scalars.setdefault(value.tag, []).append(event.step)
    assert set(scalars) == {"losses/d_loss", "losses/g_loss", "losses/gradient_penalty", "losses/wasserstein",
                            "speed/steps_per_second"}  # fmt: skip
    assert scalars["losses/d_loss"] == list(range(1, 7))
    assert images == [4, 6]  # every 4 steps, and the final model
    losses = pd.read_csv(tmp_path / "model" / "losses.csv")
    first = next(tf.compat.v1.train.summary_iterator(str(sorted((tmp_path / "tb").glob("events*"))[0])))
    assert first is not None and len(losses) == 6


def test_float16_path_with_loss_scaling_trains_and_resumes_on_cpu(dataset, tmp_path, monkeypatch):
    # GPUs get mixed_float16; forcing it here runs that path (LossScaleOptimizer, scaled losses) on a CPU.
    monkeypatch.setattr(devices, "precision_policy", lambda mixed, gpu: "mixed_float16" if mixed else "float32")
    run(dataset, tmp_path, mixed_precision=True, epochs=1)
    assert devices.Runtime([], "mixed_float16", None).loss_scale
    run(dataset, tmp_path, mixed_precision=True, epochs=2)  # resumes: optimizer with its loss scale restored
    losses = pd.read_csv(tmp_path / "model" / "losses.csv")
    assert list(losses["step"]) == list(range(1, 7)) and np.isfinite(losses[LOSSES].to_numpy()).all()
    assert keras.mixed_precision.global_policy().name == "float32"
    assert all(w.dtype == np.float32 for w in weights(tmp_path / "model" / "generator.weights.h5").values())


def test_xla_step_on_cpu_trains_and_resumes_exactly(dataset, tmp_path):
    # Stateless random numbers may differ under XLA (TensorFlow does not promise the same stream), so
    # XLA is held to its own uninterrupted run, not to the plain step's numbers.
    run(dataset, tmp_path / "a", epochs=2, xla=True)
    run(dataset, tmp_path / "b", epochs=1, xla=True)
    run(dataset, tmp_path / "b", epochs=2, xla=True)
    a, b = (pd.read_csv(tmp_path / d / "model" / "losses.csv") for d in "ab")
    assert len(a) == 6 and np.isfinite(a[LOSSES].to_numpy()).all()
    np.testing.assert_allclose(b[LOSSES].to_numpy(), a[LOSSES].to_numpy(), rtol=1e-5)


@pytest.mark.parametrize("augment", [0.0, 0.5])
def test_augmentation_off_or_on_resume_is_exact(dataset, tmp_path, augment):
    run(dataset, tmp_path / "a", epochs=2, augment=augment)
    run(dataset, tmp_path / "b", epochs=1, augment=augment)
    run(dataset, tmp_path / "b", epochs=2, augment=augment)
    assert_same_weights(tmp_path / "a" / "model", tmp_path / "b" / "model")
    a, b = (pd.read_csv(tmp_path / d / "model" / "losses.csv") for d in "ab")
    assert a[LOSSES].equals(b[LOSSES])


def test_augmentation_changes_what_the_critic_sees(dataset, tmp_path):
    run(dataset, tmp_path / "off", epochs=1, augment=0.0)
    run(dataset, tmp_path / "on", epochs=1, augment=1.0)
    off, on = (pd.read_csv(tmp_path / d / "model" / "losses.csv") for d in ("off", "on"))
    assert not np.allclose(off["d_loss"], on["d_loss"])


def test_conv1d_networks_train_and_render_their_shape(dataset, tmp_path):
    model = {**MODEL, "kind": "conv1d", "generator_channels": [16, 8], "critic_channels": [8, 16]}
    T.train(dataset_dir=dataset, model_dir=tmp_path / "m", checkpoint_dir=tmp_path / "c", model_params=model,
            train_params={**TRAIN, "epochs": 1})  # fmt: skip
    assert np.isfinite(pd.read_csv(tmp_path / "m" / "losses.csv")[LOSSES].to_numpy()).all()
    g, record = model_files.load_generator(tmp_path / "m")
    assert record["kind"] == "conv1d" and tuple(g.output_shape[1:]) == (*SHAPE, 1)


def train_straight_and_resumed(dataset: Path, tmp_path: Path, model: dict) -> None:
    """Train ``model`` two epochs in one go (tmp_path/a) and in two runs of one epoch (tmp_path/b); same weights."""
    for root, epochs in (("a", [2]), ("b", [1, 2])):
        for n in epochs:
            T.train(dataset_dir=dataset, model_dir=tmp_path / root / "model", checkpoint_dir=tmp_path / root / "ckpt",
                    model_params=model, train_params={**TRAIN, "epochs": n})  # fmt: skip
    assert_same_weights(tmp_path / "a" / "model", tmp_path / "b" / "model")


def test_critic_band_norm_takes_the_training_splits_statistics_and_resumes_exactly(dataset, tmp_path):
    from audiowgan.data.band_stats import band_stats

    model = {**MODEL, "critic_band_norm": True}
    train_straight_and_resumed(dataset, tmp_path, model)
    data = batches.TrainingData.open(dataset, batch_size=4)
    mean, std = band_stats(data.mels, data.rows)
    saved = weights(tmp_path / "a" / "model" / "critic.weights.h5")
    stats = [v for k, v in saved.items() if "band_norm" in k]
    assert len(stats) == 2 and any(np.allclose(v, mean) for v in stats) and any(np.allclose(v, std) for v in stats)
    assert np.isfinite(pd.read_csv(tmp_path / "a" / "model" / "losses.csv")[LOSSES].to_numpy()).all()


def test_critic_minibatch_std_trains_resumes_exactly_and_refuses_a_batch_it_cannot_group(dataset, tmp_path):
    model = {**MODEL, "critic_minibatch_std": 2}
    train_straight_and_resumed(dataset, tmp_path, model)
    assert json.loads((tmp_path / "a" / "model" / "model.json").read_text())["critic_minibatch_std"] == 2
    assert np.isfinite(pd.read_csv(tmp_path / "a" / "model" / "losses.csv")[LOSSES].to_numpy()).all()
    with pytest.raises(ValueError, match="train.batch_size=4 is not a multiple of model.critic_minibatch_std=3"):
        T.train(dataset_dir=dataset, model_dir=tmp_path / "c" / "model", checkpoint_dir=tmp_path / "c" / "ckpt",
                model_params={**MODEL, "critic_minibatch_std": 3}, train_params=TRAIN)  # fmt: skip
    assert not (tmp_path / "c").exists()


def test_critic_clip_stats_trains_and_resumes_exactly(dataset, tmp_path):
    model = {**MODEL, "critic_clip_stats": True}
    train_straight_and_resumed(dataset, tmp_path, model)
    assert json.loads((tmp_path / "a" / "model" / "model.json").read_text())["critic_clip_stats"] is True
    saved = weights(tmp_path / "a" / "model" / "critic.weights.h5")  # Keras names them by type: dense, dense_1
    assert sum(k.startswith("layers/dense") for k in saved) == 4  # the statistics' hidden layer and the score
    assert np.isfinite(pd.read_csv(tmp_path / "a" / "model" / "losses.csv")[LOSSES].to_numpy()).all()


def test_generator_self_modulation_trains_and_resumes_exactly(dataset, tmp_path):
    model = {**MODEL, "generator_self_modulation": True}
    train_straight_and_resumed(dataset, tmp_path, model)
    assert json.loads((tmp_path / "a" / "model" / "model.json").read_text())["generator_self_modulation"] is True
    g, _ = model_files.load_generator(tmp_path / "a" / "model")  # the moving average, with its standing statistics
    assert "dense_bn_modulate" in {layer.name for layer in g.layers}
    mels = g(np.random.default_rng(0).standard_normal((3, MODEL["noise_dim"])).astype(np.float32)).numpy()
    assert np.isfinite(mels).all() and mels.min() >= -1.0 and mels.max() <= 1.0
    assert np.isfinite(pd.read_csv(tmp_path / "a" / "model" / "losses.csv")[LOSSES].to_numpy()).all()


def test_band_position_trains_resumes_exactly_and_renders_from_its_model_json(dataset, tmp_path):
    model = {**MODEL, "band_position": True}
    train_straight_and_resumed(dataset, tmp_path, model)
    assert json.loads((tmp_path / "a" / "model" / "model.json").read_text())["band_position"] is True
    g, _ = model_files.load_generator(tmp_path / "a" / "model")
    assert "to_mel_position" in {layer.name for layer in g.layers}
    mels = g(np.random.default_rng(0).standard_normal((3, MODEL["noise_dim"])).astype(np.float32)).numpy()
    assert np.isfinite(mels).all() and mels.min() >= -1.0 and mels.max() <= 1.0
    assert np.isfinite(pd.read_csv(tmp_path / "a" / "model" / "losses.csv")[LOSSES].to_numpy()).all()


def test_generator_peak_norm_trains_resumes_exactly_and_renders_mels_peaking_at_one(dataset, tmp_path):
    model = {**MODEL, "generator_peak_norm": True}
    train_straight_and_resumed(dataset, tmp_path, model)
    for weights_file in ("generator.weights.h5", "generator_ema.weights.h5"):
        g, record = model_files.load_generator(tmp_path / "a" / "model", weights=weights_file)
        assert record["generator_peak_norm"] is True
        mels = g(np.random.default_rng(0).standard_normal((3, MODEL["noise_dim"])).astype(np.float32)).numpy()
        assert np.allclose(mels.max(axis=(1, 2, 3)), 1.0)
