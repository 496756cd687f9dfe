"""WGAN-GP training: deterministic data order, resumable checkpoints, losses.csv, callbacks.

:func:`train` reads like a table of contents: open the data, set up devices and precision, build
the :class:`TrainState` (everything a checkpoint holds), restore it through :class:`Checkpoints`
if a matching one exists, run the epochs (:func:`run_epoch`) and write the outputs. What watches
or extends the loop without changing it (progress lines, checkpoint cadence, the moving average of the
generator's weights; later TensorBoard) is a :class:`Callback` in a short list.

One *step* is one generator update: one real batch, reused by ``d_steps`` critic updates (fresh
noise and interpolation weights each) and followed by one generator update, as in the write-up.
A checkpoint is resumed only when its fingerprint (model settings, train settings other than
``epochs``/``checkpoint_every``, dataset meta and index) matches; it is saved every
``checkpoint_every`` steps, at the end and on SIGTERM/SIGINT. Outputs are written atomically.
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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from . import atomic, dataset
from . import model as M
from .augment import augment
from .settings import ModelSpec, TrainSpec

LOSS_COLUMNS = ["epoch", "step", "d_loss", "g_loss", "gradient_penalty", "wasserstein", "seconds"]
LOSSES = LOSS_COLUMNS[2:6]
PROGRESS_SECONDS = 10.0  # a progress line at most this often (and at each epoch's end)
ESTIMATE_STEPS = 2  # steps timed, after the first (tracing) one, for the epoch-time estimate in the log


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


@dataclass
class TrainingData:
    """The packed dataset as training sees it: the memory-mapped mels and the train split's rows."""

    directory: Path
    mels: np.ndarray  # (N, n_mels, frames) float32 memmap, never loaded whole
    meta: dict
    index_bytes: bytes  # index.csv as written, for the fingerprint
    rows: np.ndarray  # train-split row numbers; held-out rows are for evaluation only
    batch_size: int

    @classmethod
    def open(cls, directory: str | Path, *, batch_size: int) -> TrainingData:
        directory = Path(directory)
        mels = np.load(directory / "mels.npy", mmap_mode="r")
        if mels.ndim != 3:
            raise ValueError(f"{directory / 'mels.npy'} has shape {mels.shape}, expected (N, n_mels, frames)")
        rows = dataset.split_rows(directory, "train")
        if len(rows) < batch_size:
            raise ValueError(
                f"train.batch_size={batch_size} is larger than the training split (N={len(rows)} "
                "segments): lower train.batch_size or add audio"
            )
        meta = json.loads((directory / "meta.json").read_text())
        return cls(directory, mels, meta, (directory / "index.csv").read_bytes(), rows, batch_size)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.mels.shape[1]), int(self.mels.shape[2])

    @property
    def steps_per_epoch(self) -> int:
        return len(self.rows) // self.batch_size

    def epoch(self, epoch: int, *, seed: int, start: int = 0) -> tf.data.Dataset:
        """The batches of ``epoch`` from its ``start``-th on (a resumed epoch skips the done ones)."""
        order = self.rows[batch_order(len(self.rows), self.batch_size, seed=seed, epoch=epoch)]
        return epoch_dataset(self.mels, order, start)


# --------------------------------------------------------------------------------------------- step


class WGANGP:
    """Both networks, their optimizers and the random stream; ``step(real)`` is one generator step.

    The step is one ``tf.function`` (traced once per input shape): the d_steps fake batches from one
    generator call (``batched_fakes``), d_steps critic updates on the same real batch with fresh
    interpolation weights, then one generator update on fresh noise. ``step`` returns Python floats.
    """

    def __init__(
        self,
        generator,
        critic,
        g_opt,
        d_opt,
        rng: tf.random.Generator,
        *,
        noise_dim: int,
        d_steps: int,
        gp_weight: float,
        jit_compile: bool = False,
        strategy=None,
        batched_fakes: bool = False,
        augment: float = 0.0,
    ):
        self.generator, self.critic, self.g_opt, self.d_opt, self.rng = generator, critic, g_opt, d_opt, rng
        self.noise_dim, self.d_steps, self.gp_weight = int(noise_dim), int(d_steps), float(gp_weight)
        self.augment = float(augment)
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
        # Augmentation draws its own seeds after these, and only when on: off, the stream is what it always was.
        n_seeds = 2 * self.d_steps + 2
        seeds = self.rng.make_seeds(n_seeds + (2 * self.d_steps + 1 if self.augment > 0 else 0))  # (2, k) int64

        def normal(i, rows):
            return tf.random.stateless_normal((rows, self.noise_dim), seed=seeds[:, i])

        def aug(x, i):  # DiffAugment: the critic only ever sees augmented batches, real and fake alike
            return augment(x, self.augment, seeds[:, n_seeds + i]) if self.augment > 0 else x

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
                d = M.critic_losses(self.critic, aug(real, 2 * i), aug(fake, 2 * i + 1), alpha, self.gp_weight)
                loss = self._grad_loss(self.d_opt, d["d_loss"])
            self.d_opt.apply(tape.gradient(loss, cv), cv)
        with tf.GradientTape() as tape:
            fake = self.generator(normal(1 + 2 * self.d_steps, b), training=True)
            g_loss = M.generator_loss(self.critic, aug(fake, 2 * self.d_steps))
            loss = self._grad_loss(self.g_opt, g_loss)
        self.g_opt.apply(tape.gradient(loss, gv), gv)
        return {
            "d_loss": d["d_loss"],
            "g_loss": g_loss,
            "gradient_penalty": d["gradient_penalty"],
            "wasserstein": d["wasserstein"],
        }

    def _distributed_step(self, real):
        out = self.strategy.run(self._replica_step, args=(real,))
        return {k: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in out.items()}

    def step(self, real) -> dict[str, float]:
        return {k: float(v) for k, v in self._step(real).items()}


# --------------------------------------------------------------------------------------------- devices


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


@dataclass
class Runtime:
    """Where and in what precision training runs: GPUs seen, the Keras dtype policy, the strategy."""

    gpus: list
    policy: str
    strategy: tf.distribute.Strategy | None

    @property
    def loss_scale(self) -> bool:
        return self.policy == "mixed_float16"  # float16 needs loss scaling; bfloat16 has float32's range

    def scope(self):
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    @contextlib.contextmanager
    def policy_scope(self) -> Iterator[None]:
        """The dtype policy set for the block, the previous one restored after it."""
        old = keras.mixed_precision.global_policy()
        if self.policy != "float32":
            keras.mixed_precision.set_global_policy(self.policy)
        try:
            yield
        finally:
            keras.mixed_precision.set_global_policy(old)


def setup_runtime(tp: TrainSpec, log: logging.Logger, *, strategy: tf.distribute.Strategy | None = None) -> Runtime:
    """Devices, precision, determinism and the global seed, logged once.

    ``strategy`` overrides the automatic choice (MirroredStrategy over every GPU when there are
    several, else none): e.g. a MirroredStrategy over two logical CPU devices, to test the
    multi-replica path without GPUs.
    """
    gpus = tf.config.list_physical_devices("GPU")
    policy = precision_policy(tp.mixed_precision, gpu=bool(gpus))
    if tp.mixed_precision:
        log.info("train.mixed_precision: %s", policy if policy != "float32" else "ignored (no GPU, no bfloat16 CPU)")
    if tp.xla and not gpus:
        log.info("train.xla on CPU: expect it to be slower than without")
    if gpus:  # deterministic GPU kernels are slower and some ops lack them: reproducibility is a CPU promise
        log.info("GPU: op determinism not enforced; runs may differ in the last bits")
    else:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(tp.seed)
    if strategy is None and len(gpus) > 1:
        strategy = tf.distribute.MirroredStrategy()
    if strategy is not None:
        log.info(
            "%s over %d replicas, global batch %d",
            type(strategy).__name__,
            strategy.num_replicas_in_sync,
            tp.batch_size,
        )
        if tp.xla:
            # strategy.run of the XLA-compiled step fails on the random generator's replicated state
            # (tested on logical CPUs); the distributed step runs without XLA.
            log.warning("train.xla is not applied under %s", type(strategy).__name__)
    return Runtime(gpus, policy, strategy)


def make_optimizer(tp: TrainSpec, *, loss_scale: bool = False) -> keras.optimizers.Optimizer:
    """Adam with the train settings; wrapped for dynamic loss scaling under mixed float16."""
    opt = keras.optimizers.Adam(tp.learning_rate, beta_1=tp.beta_1, beta_2=tp.beta_2)
    return keras.optimizers.LossScaleOptimizer(opt) if loss_scale else opt


# --------------------------------------------------------------------------------------------- state


@dataclass
class TrainState:
    """Everything a checkpoint holds: both networks, their optimizers, the random stream, the step and
    the cumulative training seconds. Callbacks may add their own objects (:meth:`Callback.state`)."""

    generator: keras.Model
    critic: keras.Model
    g_opt: keras.optimizers.Optimizer
    d_opt: keras.optimizers.Optimizer
    rng: tf.random.Generator
    step: tf.Variable
    seconds: tf.Variable
    extra: dict[str, Any] = field(default_factory=dict)

    def trackables(self) -> dict[str, Any]:
        own = {k: getattr(self, k) for k in ("generator", "critic", "g_opt", "d_opt", "rng", "step", "seconds")}
        return {**own, **self.extra}


def build_state(mp: ModelSpec, tp: TrainSpec, shape: tuple[int, int], runtime: Runtime) -> TrainState:
    """Fresh networks and optimizers (call inside the runtime's policy scope)."""
    with runtime.scope():
        # Synchronized BatchNorm only with several replicas: one replica keeps the plain layer's exact numbers.
        generator, critic = M.build_networks(mp, shape, synchronized_bn=runtime.strategy is not None)
        g_opt, d_opt = (
            make_optimizer(tp, loss_scale=runtime.loss_scale),
            make_optimizer(tp, loss_scale=runtime.loss_scale),
        )
        # Built now, not at the first step: a restore needs the slots to exist.
        g_opt.build(generator.trainable_variables)
        d_opt.build(critic.trainable_variables)
        return TrainState(
            generator,
            critic,
            g_opt,
            d_opt,
            rng=tf.random.Generator.from_seed(tp.seed),
            step=tf.Variable(0, dtype=tf.int64, trainable=False, name="step"),
            seconds=tf.Variable(0.0, dtype=tf.float64, trainable=False, name="seconds"),
        )


def fingerprint(mp: ModelSpec, tp: TrainSpec, meta: dict, index_bytes: bytes) -> str:
    """What a checkpoint must match to be resumed: everything but epochs and checkpoint_every."""
    train = {k: v for k, v in tp.to_dict().items() if k not in TrainSpec.NOT_FINGERPRINTED}
    doc = {"model": mp.to_dict(), "train": train, "meta": meta, "index_sha256": hashlib.sha256(index_bytes).hexdigest()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def _losses_writer(fh, rows: list[dict]) -> csv.DictWriter:
    """A losses.csv writer on ``fh`` that has written the header and ``rows``."""
    w = csv.DictWriter(fh, fieldnames=LOSS_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return w


def write_losses(path: Path, rows: list[dict]) -> None:
    with atomic.replacing(path) as tmp, open(tmp, "w", newline="") as f:
        _losses_writer(f, rows)


def read_losses(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [
            {k: (int(v) if k in ("epoch", "step") else float(v)) for k, v in row.items()} for row in csv.DictReader(f)
        ]


class Checkpoints:
    """``checkpoint_dir``: TensorFlow checkpoints of a :class:`TrainState` (the latest two), the loss rows up
    to the latest (``losses.csv``) and the fingerprint they were made with (``fingerprint.txt``).

    Only these are ever removed from the folder, never anything else in it.
    """

    def __init__(self, directory: str | Path, state: TrainState, fingerprint: str, log: logging.Logger):
        self.directory, self.state, self.fingerprint, self.log = Path(directory), state, fingerprint, log
        self._ckpt = tf.train.Checkpoint(**state.trackables())
        self._losses = self.directory / "losses.csv"
        self._fp_file = self.directory / "fingerprint.txt"
        self.saved_step: int | None = None
        self._manager: tf.train.CheckpointManager | None = None

    def restore(self) -> list[dict]:
        """Restore the latest matching checkpoint (returning its loss rows) or start fresh (returning [])."""
        latest = tf.train.latest_checkpoint(str(self.directory / "ckpt")) if self.directory.exists() else None
        rows = None
        if latest is not None:
            old = self._fp_file.read_text().strip() if self._fp_file.exists() else None
            if old == self.fingerprint:
                rows = self._restore(latest)
            else:
                self.log.warning(
                    "checkpoint %s was made with a different config or dataset (fingerprint %s, now %s): "
                    "starting fresh",
                    latest,
                    (old or "missing")[:12],
                    self.fingerprint[:12],
                )
        if rows is None:
            shutil.rmtree(self.directory / "ckpt", ignore_errors=True)
            self._losses.unlink(missing_ok=True)
            self.directory.mkdir(parents=True, exist_ok=True)
            atomic.write_text(self._fp_file, self.fingerprint + "\n")
            self.log.info("starting fresh; checkpoints in %s", self.directory)
            rows = []
        self._manager = tf.train.CheckpointManager(self._ckpt, str(self.directory / "ckpt"), max_to_keep=2)
        return rows

    def _restore(self, latest: str) -> list[dict]:
        self._ckpt.restore(latest).assert_existing_objects_matched()
        step = int(self.state.step.numpy())  # .numpy(): a MirroredVariable has no __int__
        rows = [r for r in read_losses(self._losses) if r["step"] <= step]
        if [r["step"] for r in rows] != list(range(1, step + 1)):
            raise RuntimeError(f"{self._losses} does not hold steps 1..{step} of {latest}")
        self.log.info("resuming from %s at step %d (epoch %d)", latest, step, rows[-1]["epoch"] if rows else 0)
        self.saved_step = step
        return rows

    def save(self, rows: list[dict], seconds: float) -> None:
        self.state.seconds.assign(seconds)
        # Losses first: a crash between the two leaves extra rows that the restore drops, never a gap.
        write_losses(self._losses, rows)
        self._manager.save(checkpoint_number=int(self.state.step.numpy()))
        self.saved_step = int(self.state.step.numpy())


# --------------------------------------------------------------------------------------------- loop


@dataclass
class Loop:
    """What a running training is: settings, data, state and progress. Callbacks receive it."""

    mp: ModelSpec
    tp: TrainSpec
    data: TrainingData
    state: TrainState
    gan: WGANGP
    checkpoints: Checkpoints
    runtime: Runtime
    rows: list[dict]  # one per step so far, resumed ones included
    log: logging.Logger
    step: int = 0
    _t_offset: float = 0.0
    _t0: float = field(default_factory=time.perf_counter)

    @property
    def total_steps(self) -> int:
        return self.tp.epochs * self.data.steps_per_epoch

    def elapsed(self) -> float:
        """Training seconds, summed over every run of this training (resumed ones included)."""
        return self._t_offset + time.perf_counter() - self._t0

    def save_checkpoint(self) -> None:
        self.checkpoints.save(self.rows, self.elapsed())


class Callback:
    """Hooks into the loop; each does nothing unless overridden. Called in list order."""

    def state(self, state: TrainState) -> dict[str, Any]:
        """Objects to keep in the checkpoint with ``state`` (restored on resume), made once before training."""
        return {}

    def on_train_begin(self, loop: Loop) -> None: ...

    def on_epoch_begin(self, loop: Loop, epoch: int) -> None: ...

    def on_step_end(self, loop: Loop, row: dict) -> None: ...

    def on_epoch_end(self, loop: Loop, epoch: int, rows: list[dict]) -> None: ...

    def on_train_end(self, loop: Loop) -> None: ...

    def close(self) -> None:
        """Release files and writers; called after training, whether it ended well or not."""


class CheckpointEvery(Callback):
    """A resumable checkpoint every ``every`` generator steps."""

    def __init__(self, every: int):
        self.every = every

    def on_step_end(self, loop: Loop, row: dict) -> None:
        if loop.step % self.every == 0:
            loop.save_checkpoint()


class ProgressLog(Callback):
    """A progress line at the first step, then at most every ``seconds`` (with steps/s and an ETA), and a
    summary per epoch."""

    def __init__(self, seconds: float = PROGRESS_SECONDS):
        self.seconds = seconds

    def on_train_begin(self, loop: Loop) -> None:
        self._last, self._last_step = time.perf_counter(), loop.step
        self._first_step = loop.step
        g, c = loop.state.generator, loop.state.critic
        loop.log.info(
            "dataset %s: N=%d, mel %dx%d, %d steps/epoch, %d epochs (%d steps), generator %d and critic %d "
            "parameters, %s",
            loop.data.directory,
            len(loop.data.rows),
            *loop.data.shape,
            loop.data.steps_per_epoch,
            loop.tp.epochs,
            loop.total_steps,
            g.count_params(),
            c.count_params(),
            "GPU" if loop.runtime.gpus else "CPU",
        )

    def on_epoch_begin(self, loop: Loop, epoch: int) -> None:
        self._epoch_t0 = time.perf_counter()

    def _estimate(self, loop: Loop, now: float) -> None:
        """After ESTIMATE_STEPS steps past this run's first (which traces the step), say how long an epoch
        and the rest of training will take here: on a CPU at full size that is the first thing to know."""
        done = loop.step - self._first_step
        if done == 1:
            self._traced = now
        elif done == 1 + ESTIMATE_STEPS:
            per_step = (now - self._traced) / ESTIMATE_STEPS
            loop.log.info(
                "timing: %.2f s/step on this machine, so one epoch (%d steps) takes about %s and the %d steps "
                "left about %s",
                per_step,
                loop.data.steps_per_epoch,
                _clock(per_step * loop.data.steps_per_epoch),
                loop.total_steps - loop.step,
                _clock(per_step * (loop.total_steps - loop.step)),
            )

    def on_step_end(self, loop: Loop, row: dict) -> None:
        now = time.perf_counter()
        self._estimate(loop, now)
        if now - self._last >= self.seconds or loop.step == 1:
            rate = (loop.step - self._last_step) / max(now - self._last, 1e-9)
            eta = (loop.total_steps - loop.step) / rate if rate > 0 else float("inf")
            self._last, self._last_step = now, loop.step
            loop.log.info(
                "step %d/%d epoch %d: d_loss %.4f g_loss %.4f gp %.4f wasserstein %.4f, %.2f steps/s, ETA %s",
                loop.step,
                loop.total_steps,
                row["epoch"],
                *(row[k] for k in LOSSES),
                rate,
                _clock(eta),
            )

    def on_epoch_end(self, loop: Loop, epoch: int, rows: list[dict]) -> None:
        if not rows:
            return
        mean = [float(np.mean([r[k] for r in rows])) for k in LOSSES]
        rate = len(rows) / max(time.perf_counter() - self._epoch_t0, 1e-9)
        loop.log.info(
            "epoch %d/%d done: mean d_loss %.4f g_loss %.4f gp %.4f wasserstein %.4f, %.2f steps/s",
            epoch + 1,
            loop.tp.epochs,
            *mean,
            rate,
        )


def _clock(seconds: float) -> str:
    """H:MM:SS, or '?' when unknown."""
    if not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class LiveLosses(Callback):
    """``losses.csv`` written as training goes, flushed every step, so ``tail -f`` and plots can follow it.

    Starts with the rows so far (a resumed run's too); at the end :func:`write_outputs` replaces
    it atomically with the complete table.
    """

    def __init__(self, path: str | Path):
        self.path, self._fh = Path(path), None

    def on_train_begin(self, loop: Loop) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "w", newline="")  # closed in close()
        self._writer = _losses_writer(self._fh, loop.rows)
        self._fh.flush()

    def on_step_end(self, loop: Loop, row: dict) -> None:
        self._writer.writerow(row)
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class TensorBoard(Callback):
    """TensorBoard scalars every step (the losses, the gradient penalty, the Wasserstein estimate,
    steps/s) and, every ``image_every`` steps and at the end, spectrograms of the (moving-average)
    generator for fixed latents, low frequencies at the bottom: ``tensorboard --logdir DIR``.

    A resumed run appends to the same folder; its steps continue where the checkpoint was.
    """

    def __init__(self, logdir: str | Path, *, image_every: int = 0, n_images: int = 4, seed: int = 0):
        self.logdir, self.image_every, self.n_images, self.seed = Path(logdir), image_every, n_images, seed
        self._writer = None

    def on_train_begin(self, loop: Loop) -> None:
        self._writer = tf.summary.create_file_writer(str(self.logdir))
        self._z = np.random.default_rng([self.seed, 7]).standard_normal((self.n_images, loop.mp.noise_dim))
        self._t = time.perf_counter()

    def on_step_end(self, loop: Loop, row: dict) -> None:
        now = time.perf_counter()
        with self._writer.as_default(step=loop.step):
            for key in LOSSES:
                tf.summary.scalar(f"losses/{key}", row[key])
            tf.summary.scalar("speed/steps_per_second", 1.0 / max(now - self._t, 1e-9))
            if self.image_every and loop.step % self.image_every == 0:
                self.images(loop)
        self._t = now

    def images(self, loop: Loop) -> None:
        generator = loop.state.extra.get("generator_ema", loop.state.generator)
        mels = generator(self._z.astype(np.float32), training=False)  # (B, n_mels, frames, 1) in [-1, 1]
        tf.summary.image("generated/mel", (tf.cast(mels, tf.float32)[:, ::-1] + 1.0) / 2.0, max_outputs=self.n_images)

    def on_train_end(self, loop: Loop) -> None:
        if self.image_every:
            with self._writer.as_default(step=loop.step):
                self.images(loop)  # the final model
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class GeneratorEMA(Callback):
    """An exponential moving average of the generator's weights, kept in the checkpoint.

    After every step ``ema = d * ema + (1 - d) * w`` for the trainable weights, with
    ``d = min(decay, (1 + step) / (10 + step))`` so the average forgets its random start within the
    first few hundred steps (as ``tf.train.ExponentialMovingAverage`` does with ``num_updates``);
    BatchNorm's moving statistics are copied. Standard in GAN training (ProGAN, GANSynth): the average
    sits nearer the centre of the generator's late oscillations and costs nothing at inference.
    ``decay = 0`` makes the average equal the raw weights.
    """

    def __init__(self, decay: float):
        self.decay = float(decay)

    def state(self, state: TrainState) -> dict[str, Any]:
        self.model = keras.models.clone_model(state.generator)
        self.model.set_weights(state.generator.get_weights())
        trainable = {id(v) for v in state.generator.trainable_variables}
        self._pairs = [(e, w, id(w) in trainable) for e, w in zip(self.model.weights, state.generator.weights)]
        self._update = tf.function(self._assign)
        return {"generator_ema": self.model}

    def _assign(self, step):
        d = tf.minimum(tf.constant(self.decay, tf.float32), (1.0 + step) / (10.0 + step))
        for ema, w, trainable in self._pairs:
            ema.assign(d * ema + (1.0 - d) * w if trainable else w)

    def on_step_end(self, loop: Loop, row: dict) -> None:
        self._update(tf.constant(loop.step, tf.float32))


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


def run_epoch(loop: Loop, epoch: int, callbacks: Sequence[Callback], stop: _StopFlag) -> None:
    """The remaining steps of ``epoch`` (all of them unless it was interrupted and resumed)."""
    skip = loop.step - epoch * loop.data.steps_per_epoch
    ds = loop.data.epoch(epoch, seed=loop.tp.seed, start=skip)
    if loop.runtime.strategy is not None:
        ds = loop.runtime.strategy.experimental_distribute_dataset(ds)
    for cb in callbacks:
        cb.on_epoch_begin(loop, epoch)
    epoch_rows = []
    for real in ds:
        out = loop.gan.step(real)
        bad = {k: v for k, v in out.items() if not math.isfinite(v)}
        if bad:
            raise FloatingPointError(
                f"non-finite loss at step {loop.step + 1} (epoch {epoch + 1}): {bad}; training stopped, "
                f"the last good checkpoint (step {loop.checkpoints.saved_step}) is kept"
            )
        loop.step += 1
        loop.state.step.assign(loop.step)
        row = {"epoch": epoch + 1, "step": loop.step, **out, "seconds": round(loop.elapsed(), 3)}
        loop.rows.append(row)
        epoch_rows.append(row)
        for cb in callbacks:
            cb.on_step_end(loop, row)
        if stop.signum is not None:
            loop.save_checkpoint()
            raise TrainingInterrupted(
                f"signal {signal.Signals(stop.signum).name} at step {loop.step}: checkpoint saved in "
                f"{loop.checkpoints.directory}; rerun to resume"
            )
    for cb in callbacks:
        cb.on_epoch_end(loop, epoch, epoch_rows)


def write_outputs(loop: Loop, model_dir: Path) -> dict:
    """The weights of the generator, the critic and any network a callback keeps (``generator_ema``), losses.csv
    and model.json (the settings that rebuild the networks)."""
    spec = {
        **loop.mp.to_dict(),
        "input_shape": list(loop.data.shape),
        "steps": loop.step,
        "epochs": loop.tp.epochs,
        "steps_per_epoch": loop.data.steps_per_epoch,
        "train_params": loop.tp.to_dict(),
        "dataset_meta": loop.data.meta,
    }
    model_dir.mkdir(parents=True, exist_ok=True)
    nets = {"generator": loop.state.generator, "critic": loop.state.critic}
    nets.update({k: v for k, v in loop.state.extra.items() if isinstance(v, keras.Model)})
    for name, net in nets.items():
        with atomic.replacing(model_dir / f"{name}.weights.h5", keep_suffix=True) as tmp:  # Keras wants the suffix
            net.save_weights(tmp)
    write_losses(model_dir / "losses.csv", loop.rows)
    atomic.write_json(model_dir / "model.json", spec)
    return spec


# --------------------------------------------------------------------------------------------- train


def train(
    *,
    dataset_dir: str | Path,
    model_dir: str | Path,
    checkpoint_dir: str | Path,
    model_params: ModelSpec | Mapping[str, Any],
    train_params: TrainSpec | Mapping[str, Any],
    log: logging.Logger | None = None,
    callbacks: Sequence[Callback] = (),
    strategy: tf.distribute.Strategy | None = None,
    tensorboard_dir: str | Path | None = None,
) -> dict:
    """Train (or resume training) the WGAN-GP and write its outputs; returns the model.json dict.

    ``model_params``/``train_params`` are settings objects or config mappings (checked against the
    schema, missing keys taking its defaults). ``callbacks`` run after the built-in ones (the
    generator's moving average, checkpoint cadence, progress lines). ``strategy``, if given, replaces
    the automatic device choice. ``tensorboard_dir``: where TensorBoard logs go when ``train.tensorboard``
    is on (none without it). Raises ``FloatingPointError`` on a non-finite loss (the last good
    checkpoint is kept) and ``TrainingInterrupted`` after saving a checkpoint on SIGTERM/SIGINT.
    """
    log = log or logging.getLogger(__name__)
    logging.getLogger("absl").setLevel(logging.WARNING)  # TF logs one "Sharding callback" INFO line per save
    mp, tp = ModelSpec.coerce(model_params), TrainSpec.coerce(train_params)
    data = TrainingData.open(dataset_dir, batch_size=tp.batch_size)
    runtime = setup_runtime(tp, log, strategy=strategy)
    callbacks = [
        GeneratorEMA(tp.ema_decay),
        CheckpointEvery(tp.checkpoint_every),
        ProgressLog(),
        LiveLosses(Path(model_dir) / "losses.csv"),
        *callbacks,
    ]
    if tp.tensorboard and tensorboard_dir is not None:
        callbacks.append(TensorBoard(tensorboard_dir, image_every=tp.tensorboard_image_every, seed=tp.seed))
    with runtime.policy_scope():
        state = build_state(mp, tp, data.shape, runtime)
        with runtime.scope():
            for cb in callbacks:
                state.extra.update(cb.state(state))
        gan = WGANGP(
            state.generator,
            state.critic,
            state.g_opt,
            state.d_opt,
            state.rng,
            noise_dim=mp.noise_dim,
            d_steps=tp.d_steps,
            gp_weight=tp.gp_weight,
            jit_compile=tp.xla,
            strategy=runtime.strategy,
            augment=tp.augment,
        )
        checkpoints = Checkpoints(checkpoint_dir, state, fingerprint(mp, tp, data.meta, data.index_bytes), log)
        rows = checkpoints.restore()
        loop = Loop(
            mp,
            tp,
            data,
            state,
            gan,
            checkpoints,
            runtime,
            rows,
            log,
            step=int(state.step.numpy()),
            _t_offset=float(state.seconds.numpy()),
        )
        try:
            for cb in callbacks:
                cb.on_train_begin(loop)
            with _StopFlag() as stop:
                for epoch in range(loop.step // data.steps_per_epoch, tp.epochs):
                    run_epoch(loop, epoch, callbacks, stop)
                if checkpoints.saved_step != loop.step:
                    loop.save_checkpoint()
            for cb in callbacks:
                cb.on_train_end(loop)
        finally:
            for cb in callbacks:
                cb.close()
        spec = write_outputs(loop, Path(model_dir))
        log.info("done: %d steps in %.1f s (cumulative); outputs in %s", loop.step, loop.elapsed(), model_dir)
        return spec
