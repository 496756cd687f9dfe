"""FusedAdam is Keras's Adam computed by TensorFlow's fused kernel: same updates, same state, same checkpoints."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from audiowgan.core.settings import TrainSpec
from audiowgan.nn.adam import FusedAdam
from audiowgan.nn.state import make_optimizer

SHAPES = [(3, 3, 2, 4), (4,), (7, 5)]


def weights(seed: int = 0) -> list[keras.Variable]:
    rng = np.random.default_rng(seed)
    return [keras.Variable(rng.normal(size=s).astype(np.float32)) for s in SHAPES]


def gradients(step: int) -> list[np.ndarray]:
    rng = np.random.default_rng(100 + step)
    return [rng.normal(scale=10.0 ** rng.integers(-4, 1), size=s).astype(np.float32) for s in SHAPES]


def train(opt, variables, steps: range, *, compiled: bool = True, jit: bool = False):
    opt.build(variables)  # outside the tf.function: its slots are variables
    apply = lambda grads: opt.apply(grads, variables)  # noqa: E731
    apply = tf.function(apply, jit_compile=jit) if compiled else apply
    for i in steps:
        apply([tf.constant(g) for g in gradients(i)])
    return [v.numpy() for v in variables]


def moments(opt) -> list[np.ndarray]:
    return [m.numpy() for m in (*opt._momentums, *opt._velocities)]


@pytest.mark.parametrize("amsgrad", [False, True])
def test_fused_adam_updates_as_keras_adam(amsgrad):
    hyper = dict(learning_rate=1e-3, beta_1=0.5, beta_2=0.9, amsgrad=amsgrad)
    stock, fused = keras.optimizers.Adam(**hyper), FusedAdam(**hyper)
    want, got = train(stock, weights(), range(6)), train(fused, weights(), range(6))
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)
    assert not np.allclose(got[0], weights()[0].numpy())  # it moved
    for w, g in zip(moments(stock), moments(fused)):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-12)
    assert int(fused.iterations.numpy()) == 6


def test_fused_adam_runs_eagerly_and_compiled_with_xla_alike():
    eager = train(FusedAdam(1e-3), weights(), range(3), compiled=False)
    xla = train(FusedAdam(1e-3), weights(), range(3), jit=True)
    for e, x in zip(eager, xla):
        np.testing.assert_allclose(x, e, rtol=1e-6, atol=1e-7)


def test_a_checkpoint_of_keras_adam_resumes_in_fused_adam_exactly(tmp_path):
    """Checkpoints written before the switch restore: the optimizer's variables are Keras Adam's own."""
    stock, variables = keras.optimizers.Adam(1e-3, beta_1=0.5), weights()
    train(stock, variables, range(3))
    path = tf.train.Checkpoint(opt=stock, w=variables).write(str(tmp_path / "ckpt"))
    want = train(stock, variables, range(3, 6))

    fused, again = FusedAdam(1e-3, beta_1=0.5), weights(seed=1)
    fused.build(again)  # a restore needs the slots to exist, as build_state builds them
    tf.train.Checkpoint(opt=fused, w=again).read(path).assert_consumed()
    assert int(fused.iterations.numpy()) == 3
    got = train(fused, again, range(3, 6))
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)


def test_training_takes_the_fused_adam_with_the_train_settings():
    tp = TrainSpec.from_mapping(learning_rate=2e-4, critic_learning_rate=8e-4, beta_1=0.5, beta_2=0.9)
    g, d = make_optimizer(tp), make_optimizer(tp, critic=True)
    assert isinstance(g, FusedAdam) and isinstance(d, FusedAdam)
    assert float(g.learning_rate) == pytest.approx(2e-4) and float(d.learning_rate) == pytest.approx(8e-4)
    assert (g.beta_1, g.beta_2) == (0.5, 0.9)
    wrapped = make_optimizer(tp, loss_scale=True)
    assert isinstance(wrapped.inner_optimizer, FusedAdam)
