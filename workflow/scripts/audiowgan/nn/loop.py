"""The training loop: :class:`Loop` (what a running training is), the :class:`Callback` protocol it calls,
:func:`run_epoch`, the signal flag that turns SIGTERM/SIGINT into a checkpoint, and :func:`write_outputs`."""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

from audiowgan.core import atomic
from audiowgan.core.names import weights_file
from audiowgan.core.settings import ModelSpec, TrainSpec
from audiowgan.nn.batches import TrainingData
from audiowgan.nn.devices import Runtime
from audiowgan.nn.state import Checkpoints, TrainState
from audiowgan.nn.step import WGANGP


class TrainingInterrupted(RuntimeError):
    """Raised after a checkpoint was saved on SIGTERM/SIGINT, so the job exits non-zero."""


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


class StopFlag:
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


def run_epoch(loop: Loop, epoch: int, callbacks: Sequence[Callback], stop: StopFlag) -> None:
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
    """The weights of the generator, the critic and any network a callback keeps (``generator_ema``) and
    model.json (the settings that rebuild the networks)."""
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
        with atomic.replacing(model_dir / weights_file(name), keep_suffix=True) as tmp:  # Keras wants the suffix
            net.save_weights(tmp)
    atomic.write_json(model_dir / "model.json", spec)
    return spec
