"""The built-in callbacks: the generator's moving average, checkpoint cadence, progress lines, the live
losses.csv and TensorBoard. Each watches or extends the loop without changing what it computes."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from audiowgan.nn.loop import Callback, Loop
from audiowgan.nn.losses import LOSSES, LossesWriter, write_losses
from audiowgan.nn.standing_stats import standing_statistics
from audiowgan.nn.state import TrainState

PROGRESS_SECONDS = 10.0  # a progress line at most this often (and at each epoch's end)
ESTIMATE_STEPS = 2  # steps timed, after the first (tracing) one, for the epoch-time estimate in the log


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
    """The model's ``losses.csv``, written as training goes and flushed every step, so that ``tail -f`` and
    plots can follow it. Starts with the rows so far (a resumed run's too); at the end of training it is
    replaced atomically by the complete table."""

    def __init__(self, path: str | Path):
        self.path, self._fh = Path(path), None

    def on_train_begin(self, loop: Loop) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "w", newline="")  # closed in close()
        self._writer = LossesWriter(self._fh, loop.rows)
        self._fh.flush()

    def on_step_end(self, loop: Loop, row: dict) -> None:
        self._writer.write(row, flush=True)

    def on_train_end(self, loop: Loop) -> None:
        write_losses(self.path, loop.rows)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class TensorBoard(Callback):
    """TensorBoard scalars every step (the losses, the gradient penalty, the Wasserstein estimate,
    steps/s) and, every ``image_every`` steps and at the end, spectrograms of the (moving-average)
    generator for fixed latents, low frequencies at the bottom: ``tensorboard --logdir DIR``. The images
    during training show the average with the raw generator's BatchNorm statistics, the last one (after
    :class:`GeneratorEMA` has measured them) with its own, as ``generate`` renders it.

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
    BatchNorm's moving statistics are copied while it trains and measured on the average's own weights at
    the end (:func:`~audiowgan.nn.standing_stats.standing_statistics`, seeded by ``train.seed``): the raw
    generator's statistics are not those of the averaged network. Standard in GAN training (ProGAN,
    GANSynth): the average sits nearer the centre of the generator's late oscillations and costs nothing
    at inference. ``decay = 0`` makes the average the raw generator, statistics included.
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

    def on_train_end(self, loop: Loop) -> None:
        average_statistics(loop)


def average_statistics(loop: Loop) -> None:
    """The moving average's BatchNorm statistics measured on its own weights, as a training ends (seeded by
    ``train.seed``); nothing with ``train.ema_decay: 0``, whose average is the raw generator, statistics and all."""
    if loop.tp.ema_decay > 0:
        standing_statistics(loop.state.extra["generator_ema"], noise_dim=loop.mp.noise_dim,
                            batch_size=loop.tp.batch_size, seed=loop.tp.seed)  # fmt: skip
