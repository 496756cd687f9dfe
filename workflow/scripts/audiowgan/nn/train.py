"""Rule ``train``: WGAN-GP training with exact resume. :func:`train` is the table of contents.

One *step* is one generator update: one real batch, reused by ``d_steps`` critic updates (fresh
noise and interpolation weights each) and followed by one generator update, as in the write-up
(:mod:`~audiowgan.nn.step`). A checkpoint (:mod:`~audiowgan.nn.state`) is resumed only when its
fingerprint (model settings, train settings other than the ``TrainSpec.NOT_FINGERPRINTED`` ones,
dataset meta and index) matches; it is saved every ``checkpoint_every`` steps, at the end and on
SIGTERM/SIGINT. What watches or extends the loop (:mod:`~audiowgan.nn.loop`) without changing it is a
callback (:mod:`~audiowgan.nn.callbacks`): the generator's moving average, checkpoint cadence,
progress lines, the live losses.csv and TensorBoard. Devices, precision and the strategy are decided
in :func:`audiowgan.nn.devices.setup_runtime`; the batches come from :mod:`~audiowgan.nn.batches`.

Outputs in ``model_dir``: ``generator.weights.h5``, ``critic.weights.h5``, ``generator_ema.weights.h5``,
``losses.csv`` and ``model.json``, each written atomically.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from audiowgan.core.settings import ModelSpec, TrainSpec
from audiowgan.data.band_stats import band_stats
from audiowgan.nn import callbacks as C
from audiowgan.nn import model as M
from audiowgan.nn.batches import TrainingData
from audiowgan.nn.devices import Runtime, setup_runtime
from audiowgan.nn.loop import Callback, Loop, StopFlag, run_epoch, write_outputs
from audiowgan.nn.state import Checkpoints, TrainState, build_state, fingerprint
from audiowgan.nn.step import WGANGP
from audiowgan.nn.warm_start import WarmStart


def train(
    *,
    dataset_dir: str | Path,
    model_dir: str | Path,
    checkpoint_dir: str | Path,
    model_params: ModelSpec | Mapping[str, Any],
    train_params: TrainSpec | Mapping[str, Any],
    log: logging.Logger | None = None,
    callbacks: Sequence[Callback] = (),
    strategy=None,
    tensorboard_dir: str | Path | None = None,
    threads: int | None = None,
    gpu_requested: float = 0,
) -> dict:
    """Train (or resume training) the WGAN-GP and write its outputs; returns the model.json dict.

    ``model_params``/``train_params`` are settings objects or config mappings (checked against the
    schema, missing keys taking its defaults); ``train_params.init_from`` is a model folder to start from
    (:mod:`~audiowgan.nn.warm_start`). ``callbacks`` run after the built-in ones.
    ``strategy`` (a ``tf.distribute.Strategy``), if given, replaces the automatic device choice.
    ``tensorboard_dir``: where TensorBoard logs go when ``train.tensorboard`` is on (none without it).
    ``threads``/``gpu_requested``: the rule job's threads and ``gpu`` resource, logged with the devices
    first (see :func:`~audiowgan.nn.devices.setup_runtime`). Raises ``FloatingPointError`` on a
    non-finite loss (the last good checkpoint is kept) and ``TrainingInterrupted`` after saving a
    checkpoint on SIGTERM/SIGINT.
    """
    log = log or logging.getLogger(__name__)
    logging.getLogger("absl").setLevel(logging.WARNING)  # TF logs one "Sharding callback" INFO line per save
    mp, tp = ModelSpec.coerce(model_params), TrainSpec.coerce(train_params)
    runtime = setup_runtime(tp, log, strategy=strategy, threads=threads, gpu_requested=gpu_requested)
    check_batch_shares(mp, tp, runtime)
    data = TrainingData.open(dataset_dir, batch_size=tp.batch_size)
    # Checked before anything is built: a source of other networks stops here, not at its first load.
    warm = WarmStart.open(tp.init_from, mp, data.shape) if tp.init_from else None
    hooks = builtin_callbacks(tp, Path(model_dir), tensorboard_dir) + list(callbacks)
    with runtime.policy_scope():
        state = build_state(mp, tp, data.shape, runtime)
        with runtime.scope():
            if warm is not None:  # before the callbacks' state: the moving average is cloned from the loaded weights
                warm.load(state)
                log.info("initial weights from %s (generator, critic); fresh optimizers from step 0", warm.folder)
            if mp.critic_band_norm:  # after a warm start too: the statistics are this dataset's
                set_critic_band_stats(state, data, log)
            for cb in hooks:
                state.extra.update(cb.state(state))
        fp = fingerprint(mp, tp, data.meta, data.index_bytes, init_sha256=warm.digest if warm else None)
        checkpoints = Checkpoints(checkpoint_dir, state, fp, log)
        rows = checkpoints.restore()
        loop = Loop(mp=mp, tp=tp, data=data, state=state, gan=make_gan(state, mp, tp, runtime),
                    checkpoints=checkpoints, runtime=runtime, rows=rows, log=log,
                    step=int(state.step.numpy()), _t_offset=float(state.seconds.numpy()))  # fmt: skip
        run_epochs(loop, hooks)
        spec = write_outputs(loop, Path(model_dir))
        log.info("done: %d steps in %.1f s (cumulative); outputs in %s", loop.step, loop.elapsed(), model_dir)
        return spec


def check_batch_shares(mp: ModelSpec, tp: TrainSpec, runtime: Runtime) -> None:
    """What each GPU's share of the batch must hold, refused before anything is built or written:
    ``model.critic_minibatch_std`` groups its consecutive examples, so its group size must divide the share, and
    ``train.mode_seeking`` compares the share's two halves, so it needs two examples or more."""
    group = mp.critic_minibatch_std
    replicas = runtime.strategy.num_replicas_in_sync if runtime.strategy is not None else 1
    over = f" times the {replicas} GPUs it is split across" if replicas > 1 else ""
    if group and tp.batch_size % (group * replicas):
        raise ValueError(f"train.batch_size={tp.batch_size} is not a multiple of model.critic_minibatch_std={group}"
                         f"{over}: change one of them")  # fmt: skip
    if tp.mode_seeking > 0 and tp.batch_size < 2 * replicas:
        raise ValueError(f"train.mode_seeking compares two halves of each GPU's share of the batch: "
                         f"train.batch_size={tp.batch_size} must be at least 2{over}")  # fmt: skip


def builtin_callbacks(tp: TrainSpec, model_dir: Path, tensorboard_dir: str | Path | None) -> list[Callback]:
    """The callbacks every training runs, in this order; TensorBoard only with ``train.tensorboard`` and a folder."""
    hooks = [
        C.GeneratorEMA(tp.ema_decay),
        C.CheckpointEvery(tp.checkpoint_every),
        C.ProgressLog(),
        C.LiveLosses(model_dir / "losses.csv"),
    ]
    if tp.tensorboard and tensorboard_dir is not None:
        hooks.append(C.TensorBoard(tensorboard_dir, image_every=tp.tensorboard_image_every, seed=tp.seed))
    return hooks


def set_critic_band_stats(state: TrainState, data: TrainingData, log: logging.Logger) -> None:
    """``model.critic_band_norm``: the critic's input statistics from the training split (a resumed
    checkpoint restores the same values: its fingerprint pins the dataset)."""
    mean, std = band_stats(data.mels, data.rows)
    M.set_band_stats(state.critic, mean, std)
    log.info("critic band norm: band means %.2f to %.2f, standard deviations %.3f to %.3f (training split)",
             mean.min(), mean.max(), std.min(), std.max())  # fmt: skip


def make_gan(state: TrainState, mp: ModelSpec, tp: TrainSpec, runtime: Runtime) -> WGANGP:
    """The step over ``state``'s networks, optimizers and random stream."""
    return WGANGP(state.generator, state.critic, state.g_opt, state.d_opt, state.rng, noise_dim=mp.noise_dim,
                  d_steps=tp.d_steps, gp_weight=tp.gp_weight, jit_compile=tp.xla, strategy=runtime.strategy,
                  augment=tp.augment, gp_every=tp.gp_every, mode_seeking=tp.mode_seeking)  # fmt: skip


def run_epochs(loop: Loop, hooks: Sequence[Callback]) -> None:
    """The epochs left, a checkpoint at the end, the callbacks' begin/end hooks; the callbacks are closed
    whatever happens."""
    try:
        for cb in hooks:
            cb.on_train_begin(loop)
        with StopFlag() as stop:
            for epoch in range(loop.step // loop.data.steps_per_epoch, loop.tp.epochs):
                run_epoch(loop, epoch, hooks, stop)
            if loop.checkpoints.saved_step != loop.step:
                loop.save_checkpoint()
        for cb in hooks:
            cb.on_train_end(loop)
    finally:
        for cb in hooks:
            cb.close()
