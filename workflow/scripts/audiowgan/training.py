"""WGAN-GP training loop: deterministic data order, resumable checkpoints, losses.csv.

``train`` is one function of (dataset, model_dir, checkpoint_dir, params). It restores the latest
checkpoint in ``checkpoint_dir`` when its fingerprint (model params, train params other than
epochs/checkpoint_every, dataset meta and index) matches, saves every ``checkpoint_every`` generator
steps, at the end and on SIGTERM/SIGINT, and writes its outputs atomically into ``model_dir``.

One *step* is one generator update: one real batch, reused by ``d_steps`` critic updates (fresh
noise and interpolation weights each) and followed by one generator update, as in the write-up.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import math
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from . import atomic, dataset
from . import model as M

LOSS_COLUMNS = ["epoch", "step", "d_loss", "g_loss", "gradient_penalty", "wasserstein", "seconds"]
PROGRESS_SECONDS = 10.0  # a progress line at most this often (and at each epoch's end)
TRAIN_KEYS = ("epochs", "batch_size", "d_steps", "gp_weight", "learning_rate", "beta_1", "beta_2", "seed",
              "checkpoint_every", "mixed_precision", "xla")  # fmt: skip
MODEL_KEYS = ("noise_dim", "generator_channels", "critic_channels", "kernel_size")
NOT_FINGERPRINTED = ("epochs", "checkpoint_every")  # may change between runs: training just continues


class TrainingInterrupted(RuntimeError):
    """Raised after a checkpoint was saved on SIGTERM/SIGINT, so the job exits non-zero."""


# --------------------------------------------------------------------------------------------- data


def batch_order(n: int, batch_size: int, *, seed: int, epoch: int) -> np.ndarray:
    """(n // batch_size, batch_size) row indices of one epoch, a function of (seed, epoch) only."""
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    steps = n // batch_size
    return perm[: steps * batch_size].reshape(steps, batch_size)


def read_batch(mels: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """mels[rows] as (B, n_mels, frames, 1) float32, reading rows in ascending order.

    For a memmap opened by ``np.load(mmap_mode="r")`` the rows are read with ``os.preadv`` from the
    file at the memmap's offset rather than through the mapping: pages touched through a mapping stay
    in the process's resident set (measured: +75 MB peak RSS for +81 MB of data over one epoch;
    madvise(DONTNEED) after each batch still left +30 MB), so RSS would grow with the dataset.
    """
    order = np.argsort(rows, kind="stable")
    out = np.empty((len(rows), *mels.shape[1:], 1), dtype=np.float32)
    filename = getattr(mels, "filename", None)
    if isinstance(mels, np.memmap) and filename and mels.dtype == np.float32 and mels.flags.c_contiguous:
        row_bytes = int(np.prod(mels.shape[1:])) * 4
        fd = os.open(filename, os.O_RDONLY)
        try:
            for k in order:
                view = memoryview(out[k]).cast("B")
                if os.preadv(fd, [view], int(mels.offset) + int(rows[k]) * row_bytes) != row_bytes:
                    raise OSError(f"short read of row {rows[k]} from {filename}")
        finally:
            os.close(fd)
    else:
        out[order, ..., 0] = mels[rows[order]]
    return out


def epoch_dataset(mels: np.ndarray, order: np.ndarray, start: int = 0) -> tf.data.Dataset:
    """Batches ``order[start:]`` of one epoch, read from the memmap on a tf.data thread, prefetched."""
    shape = (order.shape[1], *mels.shape[1:], 1)

    def gen():
        for rows in order[start:]:
            yield read_batch(mels, rows)

    ds = tf.data.Dataset.from_generator(gen, output_signature=tf.TensorSpec(shape, tf.float32))
    return ds.prefetch(2)


# --------------------------------------------------------------------------------------------- step


class WGANGP:
    """Both networks, their optimizers and the random stream; ``step(real)`` is one generator step.

    The step is one ``tf.function`` (traced once per input shape): the d_steps fake batches from one
    generator call (``batched_fakes``), d_steps critic updates on the same real batch with fresh
    interpolation weights, then one generator update on fresh noise. ``step`` returns Python floats.
    """

    def __init__(self, generator, critic, g_opt, d_opt, rng: tf.random.Generator, *, noise_dim: int,
                 d_steps: int, gp_weight: float, jit_compile: bool = False, strategy=None,
                 batched_fakes: bool = False):  # fmt: skip
        self.generator, self.critic, self.g_opt, self.d_opt, self.rng = generator, critic, g_opt, d_opt, rng
        self.noise_dim, self.d_steps, self.gp_weight = int(noise_dim), int(d_steps), float(gp_weight)
        self.strategy, self.batched_fakes = strategy, bool(batched_fakes)
        self._replicas = strategy.num_replicas_in_sync if strategy is not None else 1
        self._step = tf.function(self._replica_step, jit_compile=bool(jit_compile), reduce_retracing=True)
        if strategy is not None:
            self._step = tf.function(self._distributed_step)

    def _grad_loss(self, opt, loss):
        """The loss to differentiate (call inside the tape): mirrored gradients are summed across replicas,
        hence 1/replicas for the global-batch mean; a LossScaleOptimizer scales it against float16 underflow."""
        loss = loss / self._replicas
        return opt.scale_loss(loss) if isinstance(opt, keras.optimizers.LossScaleOptimizer) else loss

    def _replica_step(self, real):
        b = tf.shape(real)[0]
        cv, gv = self.critic.trainable_variables, self.generator.trainable_variables
        # One read of the seeded, checkpointed generator per step, then stateless draws: chained
        # stateful RNG ops would order the graph and keep TensorFlow from overlapping independent work.
        seeds = self.rng.make_seeds(2 * self.d_steps + 2)  # (2, k) int64

        def normal(i, rows):
            return tf.random.stateless_normal((rows, self.noise_dim), seed=seeds[:, i])

        # batched_fakes: the generator does not change during the critic steps, so the d_steps fake batches
        # may come from one generator call on d_steps*B latents. BatchNorm then normalises over d_steps*B
        # rows instead of B. Off by default: same CPU time, and on 2 cores it was not faster in wall time
        # (it removes the overlap of later generator calls with earlier critic steps).
        if self.batched_fakes:
            fakes = tf.split(self.generator(normal(0, self.d_steps * b), training=True), self.d_steps, axis=0)
        for i in range(self.d_steps):  # unrolled: d_steps is small and fixed
            fake = fakes[i] if self.batched_fakes else self.generator(normal(1 + i, b), training=True)
            alpha = tf.random.stateless_uniform((b, 1, 1, 1), seed=seeds[:, 1 + self.d_steps + i])  # per sample
            with tf.GradientTape() as tape:
                d = M.critic_losses(self.critic, real, fake, alpha, self.gp_weight)
                loss = self._grad_loss(self.d_opt, d["d_loss"])
            self.d_opt.apply(tape.gradient(loss, cv), cv)
        with tf.GradientTape() as tape:
            g_loss = M.generator_loss(self.critic, self.generator(normal(1 + 2 * self.d_steps, b), training=True))
            loss = self._grad_loss(self.g_opt, g_loss)
        self.g_opt.apply(tape.gradient(loss, gv), gv)
        return {"d_loss": d["d_loss"], "g_loss": g_loss, "gradient_penalty": d["gradient_penalty"],
                "wasserstein": d["wasserstein"]}  # fmt: skip

    def _distributed_step(self, real):
        out = self.strategy.run(self._replica_step, args=(real,))
        return {k: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in out.items()}

    def step(self, real) -> dict[str, float]:
        return {k: float(v) for k, v in self._step(real).items()}


def _flag(value) -> bool:
    """A boolean parameter that may arrive as a string through --config ("false" is False)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def cpu_has_bfloat16() -> bool:
    """True on x86 CPUs with native bfloat16 arithmetic (AVX512-BF16 or AMX), where oneDNN runs bf16 fast."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def precision_policy(mixed_precision: bool, *, gpu: bool) -> str:
    """Keras dtype policy for ``train.mixed_precision``: float16 compute on GPUs, bfloat16 on CPUs that
    have it, else float32. Variables, the critic's score, the losses and the penalty stay float32."""
    if not mixed_precision:
        return "float32"
    if gpu:
        return "mixed_float16"
    return "mixed_bfloat16" if cpu_has_bfloat16() else "float32"


def make_optimizer(tp: dict, mixed: bool) -> keras.optimizers.Optimizer:
    opt = keras.optimizers.Adam(float(tp["learning_rate"]), beta_1=float(tp["beta_1"]), beta_2=float(tp["beta_2"]))
    return keras.optimizers.LossScaleOptimizer(opt) if mixed else opt


# --------------------------------------------------------------------------------------------- files


def _write_losses(path: Path, rows: list[dict]) -> None:
    with atomic.replacing(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=LOSS_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def _read_losses(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [
            {k: (int(v) if k in ("epoch", "step") else float(v)) for k, v in row.items()} for row in csv.DictReader(f)
        ]


def _save_weights(net: keras.Model, path: Path) -> None:
    with atomic.replacing(path, keep_suffix=True) as tmp:  # Keras requires the .weights.h5 suffix
        net.save_weights(tmp)


def fingerprint(model_params: dict, train_params: dict, meta: dict, index_bytes: bytes) -> str:
    """What a checkpoint must match to be resumed: everything but epochs and checkpoint_every."""
    doc = {
        "model": {k: model_params[k] for k in sorted(model_params)},
        "train": {k: train_params[k] for k in sorted(train_params) if k not in NOT_FINGERPRINTED},
        "meta": meta,
        "index_sha256": hashlib.sha256(index_bytes).hexdigest(),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def _check_params(model_params: dict, train_params: dict) -> None:
    for name, params, keys in (("model", model_params, MODEL_KEYS), ("train", train_params, TRAIN_KEYS)):
        missing = [k for k in keys if k not in params]
        if missing:
            raise KeyError(f"{name} params lack {missing}")
    for k in ("epochs", "batch_size", "d_steps", "checkpoint_every"):
        if int(train_params[k]) < 1:
            raise ValueError(f"train.{k}={train_params[k]!r} must be a positive integer")
    if float(train_params["gp_weight"]) < 0:
        raise ValueError(f"train.gp_weight={train_params['gp_weight']!r} must be >= 0")


class _StopFlag:
    """SIGTERM/SIGINT set a flag; the loop checkpoints at the next step boundary and raises."""

    def __init__(self):
        self.signum: int | None = None
        self._old: dict[int, object] = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGTERM, signal.SIGINT):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signum = signum

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)


# --------------------------------------------------------------------------------------------- train


def train(
    *,
    dataset_dir: str | Path,
    model_dir: str | Path,
    checkpoint_dir: str | Path,
    model_params: dict,
    train_params: dict,
    log: logging.Logger | None = None,
) -> dict:
    """Train (or resume training) the WGAN-GP and write its outputs; returns the model.json dict.

    Raises ``FloatingPointError`` on a non-finite loss (the last good checkpoint is kept) and
    ``TrainingInterrupted`` after saving a checkpoint on SIGTERM/SIGINT.
    """
    log = log or logging.getLogger(__name__)
    logging.getLogger("absl").setLevel(logging.WARNING)  # TF logs one "Sharding callback" INFO line per save
    _check_params(model_params, train_params)
    dataset_dir, model_dir, checkpoint_dir = Path(dataset_dir), Path(model_dir), Path(checkpoint_dir)
    tp, mp = dict(train_params), dict(model_params)
    meta = json.loads((dataset_dir / "meta.json").read_text())
    index_bytes = (dataset_dir / "index.csv").read_bytes()
    mels = np.load(dataset_dir / "mels.npy", mmap_mode="r")  # never loaded whole
    if mels.ndim != 3:
        raise ValueError(f"{dataset_dir / 'mels.npy'} has shape {mels.shape}, expected (N, n_mels, frames)")
    _, n_mels, frames = mels.shape
    train_rows = dataset.split_rows(dataset_dir, "train")  # held-out rows are for evaluation only
    n = len(train_rows)
    batch_size, epochs, seed = int(tp["batch_size"]), int(tp["epochs"]), int(tp["seed"])
    if n < batch_size:
        raise ValueError(f"train.batch_size={batch_size} is larger than the training split (N={n} segments): "
                         "lower train.batch_size or add audio")  # fmt: skip
    steps_per_epoch = n // batch_size
    total_steps = epochs * steps_per_epoch

    gpus = tf.config.list_physical_devices("GPU")
    policy = precision_policy(_flag(tp.get("mixed_precision")), gpu=bool(gpus))
    mixed = policy == "mixed_float16"  # float16 needs loss scaling; bfloat16 has float32's exponent range
    if _flag(tp.get("mixed_precision")):
        log.info("train.mixed_precision: %s", policy if policy != "float32" else "ignored (no GPU, no bfloat16 CPU)")
    if _flag(tp.get("xla")) and not gpus:
        log.info("train.xla on CPU: expect it to be slower than without")
    if gpus:  # deterministic GPU kernels are slower and some ops lack them: reproducibility is a CPU promise
        log.info("GPU: op determinism not enforced; runs may differ in the last bits")
    else:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)
    strategy = tf.distribute.MirroredStrategy() if len(gpus) > 1 else None
    if strategy is not None:
        log.info("MirroredStrategy over %d GPUs, global batch %d", len(gpus), batch_size)
    old_policy = keras.mixed_precision.global_policy()
    if policy != "float32":
        keras.mixed_precision.set_global_policy(policy)
    try:
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            generator = M.build_generator(noise_dim=int(mp["noise_dim"]), channels=list(mp["generator_channels"]),
                                          output_shape=(n_mels, frames), kernel_size=int(mp["kernel_size"]))  # fmt: skip
            critic = M.build_critic(channels=list(mp["critic_channels"]), input_shape=(n_mels, frames),
                                    kernel_size=int(mp["kernel_size"]))  # fmt: skip
            g_opt, d_opt = make_optimizer(tp, mixed), make_optimizer(tp, mixed)
            g_opt.build(generator.trainable_variables)
            d_opt.build(critic.trainable_variables)
            rng = tf.random.Generator.from_seed(seed)
            step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            seconds_var = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="seconds")
        gan = WGANGP(generator, critic, g_opt, d_opt, rng, noise_dim=int(mp["noise_dim"]), d_steps=int(tp["d_steps"]),
                     gp_weight=float(tp["gp_weight"]), jit_compile=_flag(tp.get("xla")), strategy=strategy)  # fmt: skip
        ckpt = tf.train.Checkpoint(generator=generator, critic=critic, g_opt=g_opt, d_opt=d_opt, rng=rng,
                                   step=step_var, seconds=seconds_var)  # fmt: skip
        rows = _restore(ckpt, checkpoint_dir, fingerprint(mp, tp, meta, index_bytes), step_var, log)
        manager = tf.train.CheckpointManager(ckpt, str(checkpoint_dir / "ckpt"), max_to_keep=2)
        losses_ckpt = checkpoint_dir / "losses.csv"

        saved = {"step": int(step_var) if rows else None}

        def save_checkpoint():
            seconds_var.assign(elapsed())
            # Losses first: a crash between the two leaves extra rows that the restore drops, never a gap.
            _write_losses(losses_ckpt, rows)
            manager.save(checkpoint_number=int(step_var))
            saved["step"] = int(step_var)

        step = int(step_var)
        t_offset = float(seconds_var.numpy())
        t0 = time.perf_counter()

        def elapsed():
            return t_offset + time.perf_counter() - t0

        log.info("dataset %s: N=%d, mel %dx%d, %d steps/epoch, %d epochs (%d steps), generator %d and critic %d "
                 "parameters, %s", dataset_dir, n, n_mels, frames, steps_per_epoch, epochs, total_steps,
                 generator.count_params(), critic.count_params(), "GPU" if gpus else "CPU")  # fmt: skip
        with _StopFlag() as stop:
            last_log = time.perf_counter()
            start_epoch = step // steps_per_epoch
            for epoch in range(start_epoch, epochs):
                skip = step - epoch * steps_per_epoch
                order = train_rows[batch_order(n, batch_size, seed=seed, epoch=epoch)]
                ds = epoch_dataset(mels, order, skip)
                if strategy is not None:
                    ds = strategy.experimental_distribute_dataset(ds)
                ep_rows, ep_t0 = [], time.perf_counter()
                for real in ds:
                    out = gan.step(real)
                    bad = {k: v for k, v in out.items() if not math.isfinite(v)}
                    if bad:
                        raise FloatingPointError(
                            f"non-finite loss at step {step + 1} (epoch {epoch + 1}): {bad}; training stopped, "
                            f"the last good checkpoint (step {saved['step']}) is kept"
                        )
                    step += 1
                    step_var.assign(step)
                    row = {"epoch": epoch + 1, "step": step, **out, "seconds": round(elapsed(), 3)}
                    rows.append(row)
                    ep_rows.append(row)
                    if step % int(tp["checkpoint_every"]) == 0:
                        save_checkpoint()
                    now = time.perf_counter()
                    if now - last_log >= PROGRESS_SECONDS or step == 1:
                        last_log = now
                        log.info("step %d/%d epoch %d: d_loss %.4f g_loss %.4f gp %.4f wasserstein %.4f",
                                 step, total_steps, epoch + 1, out["d_loss"], out["g_loss"],
                                 out["gradient_penalty"], out["wasserstein"])  # fmt: skip
                    if stop.signum is not None:
                        save_checkpoint()
                        raise TrainingInterrupted(
                            f"signal {signal.Signals(stop.signum).name} at step {step}: checkpoint saved in "
                            f"{checkpoint_dir}; rerun to resume"
                        )
                if ep_rows:
                    mean = {k: float(np.mean([r[k] for r in ep_rows])) for k in LOSS_COLUMNS[2:6]}
                    rate = len(ep_rows) / max(time.perf_counter() - ep_t0, 1e-9)
                    log.info("epoch %d/%d done: mean d_loss %.4f g_loss %.4f gp %.4f wasserstein %.4f, %.2f steps/s",
                             epoch + 1, epochs, mean["d_loss"], mean["g_loss"], mean["gradient_penalty"],
                             mean["wasserstein"], rate)  # fmt: skip
            if saved["step"] != step:
                save_checkpoint()

        spec = {
            "noise_dim": int(mp["noise_dim"]),
            "generator_channels": [int(c) for c in mp["generator_channels"]],
            "critic_channels": [int(c) for c in mp["critic_channels"]],
            "kernel_size": int(mp["kernel_size"]),
            "input_shape": [int(n_mels), int(frames)],
            "steps": step,
            "epochs": epochs,
            "steps_per_epoch": steps_per_epoch,
            "train_params": tp,
            "dataset_meta": meta,
        }
        model_dir.mkdir(parents=True, exist_ok=True)
        _save_weights(generator, model_dir / "generator.weights.h5")
        _save_weights(critic, model_dir / "critic.weights.h5")
        _write_losses(model_dir / "losses.csv", rows)
        atomic.write_text(model_dir / "model.json", json.dumps(spec, indent=2, default=str) + "\n")
        log.info("done: %d steps in %.1f s (cumulative); outputs in %s", step, elapsed(), model_dir)
        return spec
    finally:
        keras.mixed_precision.set_global_policy(old_policy)


def _restore(ckpt, checkpoint_dir: Path, fp: str, step_var, log) -> list[dict]:
    """Restore the latest matching checkpoint (returning its loss rows) or start fresh (returning [])."""
    fp_file = checkpoint_dir / "fingerprint.txt"
    latest = tf.train.latest_checkpoint(str(checkpoint_dir / "ckpt")) if checkpoint_dir.exists() else None
    if latest is not None:
        old = fp_file.read_text().strip() if fp_file.exists() else None
        if old == fp:
            ckpt.restore(latest).assert_existing_objects_matched()
            step = int(step_var)
            rows = [r for r in _read_losses(checkpoint_dir / "losses.csv") if r["step"] <= step]
            if [r["step"] for r in rows] != list(range(1, step + 1)):
                raise RuntimeError(f"{checkpoint_dir / 'losses.csv'} does not hold steps 1..{step} of {latest}")
            log.info("resuming from %s at step %d (epoch %d)", latest, step, rows[-1]["epoch"] if rows else 0)
            return rows
        log.warning("checkpoint %s was made with a different config or dataset (fingerprint %s, now %s): "
                    "starting fresh", latest, (old or "missing")[:12], fp[:12])  # fmt: skip
    # Remove only what this module writes there, never anything else in the folder.
    shutil.rmtree(checkpoint_dir / "ckpt", ignore_errors=True)
    (checkpoint_dir / "losses.csv").unlink(missing_ok=True)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    atomic.write_text(fp_file, fp + "\n")
    log.info("starting fresh; checkpoints in %s", checkpoint_dir)
    return []
