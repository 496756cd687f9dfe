"""What a checkpoint holds (:class:`TrainState`), how it is made fresh, and :class:`Checkpoints` that
save and restore it in ``checkpoint_dir`` with the loss rows so far and the fingerprint they match."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from audiowgan.core import atomic
from audiowgan.core.rerun import without_added_off
from audiowgan.core.settings import ModelSpec, TrainSpec
from audiowgan.nn import model as M
from audiowgan.nn.adam import FusedAdam
from audiowgan.nn.devices import Runtime
from audiowgan.nn.losses import read_losses, write_losses


def make_optimizer(
    tp: TrainSpec, *, critic: bool = False, loss_scale: bool = False, adam: type = FusedAdam
) -> keras.optimizers.Optimizer:
    """Adam (Keras's, on TensorFlow's fused kernel; ``adam`` another class, as the benchmarks' reference takes
    Keras's own) with the train settings (the critic's learning rate for ``critic``); wrapped for dynamic loss
    scaling under mixed float16."""
    opt = adam(learning_rate_of(tp, critic=critic), beta_1=tp.beta_1, beta_2=tp.beta_2)
    return keras.optimizers.LossScaleOptimizer(opt) if loss_scale else opt


def make_optimizers(
    tp: TrainSpec, *, loss_scale: bool = False, adam: type = FusedAdam
) -> tuple[keras.optimizers.Optimizer, keras.optimizers.Optimizer]:
    """The generator's and the critic's optimizers, each at its own learning rate."""
    return (
        make_optimizer(tp, loss_scale=loss_scale, adam=adam),
        make_optimizer(tp, critic=True, loss_scale=loss_scale, adam=adam),
    )


def learning_rate_of(tp: TrainSpec, *, critic: bool) -> float:
    """The critic's learning rate (``train.critic_learning_rate``, else ``learning_rate``) or the generator's."""
    return tp.critic_learning_rate if critic and tp.critic_learning_rate is not None else tp.learning_rate


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
        g_opt, d_opt = make_optimizers(tp, loss_scale=runtime.loss_scale)
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


def fingerprint(mp: ModelSpec, tp: TrainSpec, meta: dict, index_bytes: bytes, init_sha256: str | None = None) -> str:
    """What a checkpoint must match to be resumed: everything but epochs and checkpoint_every (and the
    ``ModelSpec.ADDED_OFF`` and ``TrainSpec.ADDED_OFF`` keys when off, so checkpoints written before they existed match), the weights it
    started from (``init_sha256``, train.init_from; left out when there are none, so older checkpoints match)
    and, for the resize generators, their layer layout: checkpoints name variables by layer position, and those
    written before :class:`~audiowgan.nn.layers.ResizeConv2D` and ``ResizeConv1D`` (2026-12-04) have two layers
    where they have one."""
    train = {k: v for k, v in tp.to_dict().items() if k not in TrainSpec.NOT_FINGERPRINTED}
    train = without_added_off(train, TrainSpec.ADDED_OFF)
    model = without_added_off(mp.to_dict(), ModelSpec.ADDED_OFF)
    doc = {"model": model, "train": train, "meta": meta, "index_sha256": hashlib.sha256(index_bytes).hexdigest()}
    if init_sha256 is not None:
        doc["init_sha256"] = init_sha256
    if mp.kind == "conv1d" or mp.upsample == "resize":
        doc["generator_layout"] = "ResizeConv1D" if mp.kind == "conv1d" else "ResizeConv2D"
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


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
                    "checkpoint %s was made with a different config, dataset or network layout (fingerprint %s, "
                    "now %s): starting fresh",
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
