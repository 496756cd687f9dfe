"""Network shapes, exact parameter counts and the gradient penalty against an analytic critic."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from audiowgan.nn import layers as L  # noqa: E402
from audiowgan.nn import model as M  # noqa: E402
from audiowgan.nn import model_files, objective  # noqa: E402

DEFAULT_G = [1024, 512, 256, 128, 64]
DEFAULT_C = [64, 128, 256, 512]


def test_default_networks_at_256x256_have_the_pinned_parameter_counts():
    g = M.build_generator(noise_dim=128, channels=DEFAULT_G, output_shape=(256, 256))
    c = M.build_critic(channels=DEFAULT_C, input_shape=(256, 256))
    # Generator, s = 2**4 = 16, so the dense layer starts at 16x16x1024:
    #   dense (no bias, BN follows)    128 * 16*16*1024      = 33,554,432
    #   4 Conv2DTranspose, 5x5, no bias 25*(1024*512 + 512*256 + 256*128 + 128*64) = 17,408,000
    #   5 BatchNorm (gamma, beta, moving mean, moving var) 4*(1024+512+256+128+64) = 7,936
    #   final 5x5 conv to 1 channel    25*64 + 1              = 1,601
    assert g.count_params() == 33_554_432 + 17_408_000 + 7_936 + 1_601 == 50_971_969
    # Trainable: the moving statistics (2 * 1984) are not.
    assert sum(int(np.prod(v.shape)) for v in g.trainable_variables) == 50_971_969 - 2 * 1_984
    # Critic: input padded to 256x256 (already a multiple of 2**4), four 5x5 stride-2 convs with bias
    #   25*(1*64 + 64*128 + 128*256 + 256*512) + (64+128+256+512) = 4,303,360
    #   down to 16x16x512, Flatten, Dense(1): 16*16*512 + 1 = 131,073
    assert c.count_params() == 4_303_360 + 131_073 == 4_434_433


@pytest.mark.parametrize("shape", [(32, 63), (64, 216), (40, 17), (8, 8)])
def test_shapes_for_non_square_inputs(shape):
    g = M.build_generator(noise_dim=8, channels=[16, 8, 4], output_shape=shape, kernel_size=3)
    c = M.build_critic(channels=[4, 8, 8], input_shape=shape, kernel_size=3)
    x = g(np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32), training=False)
    assert tuple(x.shape) == (3, *shape, 1)
    assert float(tf.reduce_max(tf.abs(x))) <= 1.0
    y = c(x)
    assert tuple(y.shape) == (3, 1)


def test_critic_pads_with_silence():
    pad = M.PadConstant((2, 3), -1.0)
    out = pad(tf.zeros((1, 4, 5, 1))).numpy()[0, ..., 0]
    assert out.shape == (6, 8)
    assert (out[:4, :5] == 0).all() and (out[4:, :] == -1).all() and (out[:, 5:] == -1).all()


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="generator_channels"):
        M.build_generator(noise_dim=8, channels=[], output_shape=(8, 8))
    with pytest.raises(ValueError, match="noise_dim"):
        M.build_generator(noise_dim=0, channels=[4], output_shape=(8, 8))
    with pytest.raises(ValueError, match="critic_channels"):
        M.build_critic(channels=[0], input_shape=(8, 8))


def _linear_critic(w: np.ndarray) -> keras.Model:
    """D(x) = sum(w * x): its gradient is w everywhere, so the penalty is (||w|| - 1)^2."""
    x = keras.Input(w.shape)
    y = keras.layers.Dense(1, use_bias=False)(keras.layers.Flatten()(x))
    m = keras.Model(x, y)
    m.layers[-1].kernel.assign(w.reshape(-1, 1))
    return m


@pytest.mark.parametrize("scale", [0.0, 0.05, 1.0, 3.0])
def test_gradient_penalty_of_a_linear_critic(scale):
    rng = np.random.default_rng(1)
    w = (scale * rng.standard_normal((6, 5, 1)) / np.sqrt(30)).astype(np.float32)
    critic = _linear_critic(w)
    real = rng.uniform(-1, 1, (4, 6, 5, 1)).astype(np.float32)
    fake = rng.uniform(-1, 1, (4, 6, 5, 1)).astype(np.float32)
    alpha = rng.uniform(0, 1, (4, 1, 1, 1)).astype(np.float32)
    expected = (np.sqrt(np.sum(w.astype(np.float64) ** 2) + objective.GP_EPS) - 1.0) ** 2
    gp = float(objective.gradient_penalty(critic, real, fake, alpha))
    assert gp == pytest.approx(expected, rel=1e-5, abs=1e-6)
    losses = objective.critic_losses(critic, real, fake, alpha, 10.0)
    d_real, d_fake = (float(np.mean(np.sum(w * x, axis=(1, 2, 3)))) for x in (real, fake))
    assert float(losses["gradient_penalty"]) == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert float(losses["wasserstein"]) == pytest.approx(d_real - d_fake, abs=1e-5)
    assert float(losses["d_loss"]) == pytest.approx(d_fake - d_real + 10.0 * expected, rel=1e-5, abs=1e-5)


def test_gradient_penalty_is_finite_at_a_zero_gradient():
    """eps inside the sqrt: a critic with zero gradient gives gp = 1 and finite gradients, not NaN."""
    critic = _linear_critic(np.zeros((4, 4, 1), np.float32))
    x = tf.zeros((2, 4, 4, 1))
    with tf.GradientTape() as tape:
        gp = objective.gradient_penalty(critic, x, x + 1.0, tf.fill((2, 1, 1, 1), 0.5))
    grads = tape.gradient(gp, critic.trainable_variables)
    assert float(gp) == pytest.approx(1.0, abs=1e-5)
    assert all(np.isfinite(g.numpy()).all() for g in grads)


def test_mode_seeking_is_msgans_ratio_of_the_halves_and_falls_as_they_differ_more():
    z = tf.constant([[0.0, 0.0], [1.0, 3.0]])  # halves differ by mean |z1 - z2| = 2
    near = tf.constant([[[[0.0]], [[0.0]]], [[[0.5]], [[0.1]]]])  # (2, 2, 1, 1): mean |G(z1) - G(z2)| = 0.3
    far = 4.0 * near
    assert float(objective.mode_seeking(near, z)) == pytest.approx(1.0 / (0.3 / 2.0 + objective.MS_EPS), rel=1e-5)
    assert float(objective.mode_seeking(far, z)) < float(objective.mode_seeking(near, z))
    same = tf.zeros((4, 2, 1, 1), tf.bfloat16)  # a collapsed generator: large, finite, float32 whatever the input
    value = objective.mode_seeking(same, tf.random.stateless_normal((4, 2), seed=(0, 1)))
    assert value.dtype == tf.float32 and float(value) == pytest.approx(1.0 / objective.MS_EPS)


@pytest.mark.parametrize("upsample", ["resize", "transpose"])
def test_upsample_modes_have_the_same_pinned_parameter_count_and_shapes(upsample):
    g = M.build_generator(noise_dim=128, channels=DEFAULT_G, output_shape=(256, 256), upsample=upsample)
    assert g.count_params() == 50_971_969  # a k x k kernel from c_in to c_out either way
    kinds = {type(layer).__name__ for layer in g.layers}
    assert ("ResizeConv2D" in kinds) == (upsample == "resize") and ("Conv2DTranspose" in kinds) == (
        upsample != "resize"
    )
    assert "UpSampling2D" not in kinds
    small = M.build_generator(noise_dim=8, channels=[16, 8, 4], output_shape=(40, 17), kernel_size=3, upsample=upsample)
    assert tuple(small(np.zeros((2, 8), np.float32)).shape) == (2, 40, 17, 1)


def test_unknown_upsample_mode_is_refused():
    with pytest.raises(ValueError, match="upsample='bilinear' must be one of resize, transpose"):
        M.build_generator(noise_dim=8, channels=[16, 8], output_shape=(8, 8), upsample="bilinear")


@pytest.mark.parametrize("shape", [(32, 63), (64, 126), (8, 5)])
def test_conv1d_networks_keep_the_mel_shape(shape):
    g = M.build_generator_1d(noise_dim=8, channels=[16, 8, 8], output_shape=shape, kernel_size=3)
    c = M.build_critic_1d(channels=[8, 16], input_shape=shape, kernel_size=5)
    x = g(np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32), training=False)
    assert tuple(x.shape) == (3, *shape, 1) and float(tf.reduce_max(tf.abs(x))) <= 1.0
    assert tuple(c(x).shape) == (3, 1)


def test_conv1d_critic_sees_all_bands_in_its_first_layer():
    c = M.build_critic_1d(channels=[4], input_shape=(16, 8), kernel_size=3)
    assert tuple(c.get_layer("down0").kernel.shape) == (3, 16, 4)  # taps over time, every band an input channel


def test_kernel_sizes_are_separate_and_old_model_json_reads_as_both():
    from audiowgan.core.settings import ModelSpec

    spec = ModelSpec.from_mapping(generator_channels=[8, 4], critic_channels=[4], noise_dim=4)
    g, c = M.build_networks(spec, (8, 8))
    assert tuple(g.get_layer("up0").kernel.shape[:2]) == (3, 3) and tuple(c.get_layer("down0").kernel.shape[:2]) == (
        5,
        5,
    )
    old = ModelSpec.from_meta({"noise_dim": 4, "generator_channels": [8, 4], "critic_channels": [4], "kernel_size": 5})
    assert (old.generator_kernel_size, old.critic_kernel_size, old.kind) == (5, 5, "conv2d")
    assert old.critic_band_norm is False  # written before the key existed: the plain critic, whatever the default


def _critics_with_and_without_band_norm(shape=(8, 8), channels=(4, 8)):
    """A band-norm critic with random statistics and a plain critic with the same convolution weights.

    Seeded: the weights would otherwise depend on what ran before in the process (under pytest-xdist, on which
    tests a worker drew), and one unseeded draw put the plain penalty within 1% of the standardised one."""
    keras.utils.set_random_seed(2)
    rng = np.random.default_rng(2)
    mean, std = rng.uniform(-0.8, 0.2, shape[0]), rng.uniform(0.1, 0.6, shape[0])
    with_norm = M.build_critic(channels=list(channels), input_shape=shape, kernel_size=3, band_norm=True)
    plain = M.build_critic(channels=list(channels), input_shape=shape, kernel_size=3)
    for layer in plain.layers:
        if layer.weights:  # the convolutions and the score, by name
            layer.set_weights(with_norm.get_layer(layer.name).get_weights())
    M.set_band_stats(with_norm, mean, std)
    return with_norm, plain, mean.reshape(1, -1, 1, 1), std.reshape(1, -1, 1, 1)


def test_band_norm_is_off_by_default_and_adds_only_fixed_weights():
    plain = M.build_critic(channels=[4, 8], input_shape=(10, 7))
    with_norm = M.build_critic(channels=[4, 8], input_shape=(10, 7), band_norm=True)
    assert M.band_std(plain) is None and M.BAND_NORM not in {layer.name for layer in plain.layers}
    rows = with_norm.get_layer(M.BAND_NORM).rows
    assert rows == 12  # 10 bands padded to a multiple of 2**2
    assert with_norm.count_params() == plain.count_params() + 2 * rows
    assert sum(int(np.prod(v.shape)) for v in with_norm.trainable_variables) == plain.count_params()


def test_band_norm_critic_is_the_plain_critic_on_standardised_mels():
    with_norm, plain, mean, std = _critics_with_and_without_band_norm()
    x = np.random.default_rng(3).uniform(-1, 1, (5, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(
        with_norm(x).numpy(), plain(((x - mean) / std).astype(np.float32)).numpy(), rtol=1e-4, atol=1e-5
    )


def test_band_norm_penalty_is_the_plain_penalty_in_standardised_units():
    with_norm, plain, mean, std = _critics_with_and_without_band_norm()
    rng = np.random.default_rng(4)
    real, fake = (rng.uniform(-1, 1, (4, 8, 8, 1)).astype(np.float32) for _ in range(2))
    alpha = rng.uniform(0, 1, (4, 1, 1, 1)).astype(np.float32)
    standardised = [((x - mean) / std).astype(np.float32) for x in (real, fake)]
    expected = float(objective.gradient_penalty(plain, *standardised, alpha))
    assert float(objective.gradient_penalty(with_norm, real, fake, alpha)) == pytest.approx(expected, rel=1e-4)
    assert float(objective.gradient_penalty(plain, real, fake, alpha)) != pytest.approx(expected, rel=1e-2)


def test_band_norm_pads_with_each_bands_silence():
    c = M.build_critic(channels=[4, 8], input_shape=(6, 5), band_norm=True)  # padded to 8 x 8
    M.set_band_stats(c, np.full(6, -0.5), np.full(6, 0.25))
    seen = keras.Model(c.input, c.get_layer(M.BAND_NORM).output)(np.zeros((1, 6, 5, 1), np.float32)).numpy()[0, ..., 0]
    assert seen.shape == (8, 8)
    assert np.allclose(seen[:6, :5], 2.0)  # (0 - -0.5) / 0.25
    assert np.allclose(seen[:6, 5:], -2.0)  # silence, -1, standardised
    assert np.allclose(seen[6:, :], -1.0)  # rows below the last band: not bands, left as the padding


def test_conv1d_critic_takes_band_norm_too():
    c = M.build_critic_1d(channels=[8, 16], input_shape=(6, 5), band_norm=True)
    M.set_band_stats(c, np.zeros(6), np.full(6, 0.5))
    assert M.band_std(c).shape == (1, 6, 1, 1) and tuple(c(np.zeros((2, 6, 5, 1), np.float32)).shape) == (2, 1)


def test_resize_fold_of_a_3x3_kernel_sums_the_taps_that_read_one_input_pixel():
    # transposed-conv taps j = 0..3 from the pair's taps t = 0..2: k2, k1 + k2, k0 + k1, k0
    assert L.resize_fold(3).tolist() == [[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]]
    assert L.resize_fold(2).shape == (4, 2) and L.resize_fold(2)[-1].tolist() == [0, 0]  # even k: one zero tap


def _upsample_then_conv(kernel_size: int, filters: int, kernel, rank: int = 2) -> keras.Model:
    """The pair that ResizeConv2D (rank 2) or ResizeConv1D (rank 1) replaces, with ``kernel`` as its weights."""
    conv = (keras.layers.Conv1D, keras.layers.Conv2D)[rank - 1](filters, kernel_size, padding="same", use_bias=False)
    pair = keras.Sequential([(keras.layers.UpSampling1D, keras.layers.UpSampling2D)[rank - 1](2), conv])
    pair.build((None, *(None,) * rank, kernel.shape[-2]))
    conv.kernel.assign(kernel)
    return pair


def _assert_folded_equals_pair(layer_class, kernel_size: int, shape: tuple[int, ...]) -> None:
    """``layer_class`` on a random (2, *shape, 3) input equals its pair with the same kernel, in value and in the
    gradients of a random weighting of the output with respect to the input and the kernel."""
    rng = np.random.default_rng(kernel_size)
    x = tf.constant(rng.standard_normal((2, *shape, 3)).astype(np.float32))
    folded = layer_class(4, kernel_size, use_bias=False)
    folded.build(x.shape)
    folded.kernel.assign(rng.standard_normal(folded.kernel.shape).astype(np.float32))
    pair = _upsample_then_conv(kernel_size, 4, folded.kernel.numpy(), rank=len(shape))
    weight = tf.constant(rng.standard_normal((2, *(2 * n for n in shape), 4)).astype(np.float32))
    outs, grads = [], []
    for net, kernel in ((folded, folded.kernel), (pair, pair.layers[-1].kernel)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = net(x)
            loss = tf.reduce_sum(weight * y)
        outs.append(y.numpy())
        grads.append([g.numpy() for g in tape.gradient(loss, [x, kernel])])
    assert outs[0].shape == outs[1].shape == (2, *(2 * n for n in shape), 4)
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-5)
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("kernel_size", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("hw", [(4, 4), (5, 3), (1, 7)])
def test_resize_conv_equals_nearest_upsampling_then_conv_in_value_and_gradients(kernel_size, hw):
    _assert_folded_equals_pair(L.ResizeConv2D, kernel_size, hw)


@pytest.mark.parametrize("kernel_size", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("steps", [1, 6, 7])
def test_resize_conv_1d_equals_nearest_upsampling_then_conv_in_value_and_gradients(kernel_size, steps):
    _assert_folded_equals_pair(L.ResizeConv1D, kernel_size, (steps,))


def test_resize_conv_under_bfloat16_matches_the_float32_pair():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, 4, 4, 8)).astype(np.float32)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        folded = L.ResizeConv2D(4, 3, use_bias=False)
        folded.build(x.shape)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    folded.kernel.assign(rng.uniform(-0.2, 0.2, folded.kernel.shape).astype(np.float32))
    y = folded(x)
    assert y.dtype == tf.bfloat16 and folded.kernel.dtype == "float32"  # weights stay float32
    expected = _upsample_then_conv(3, 4, folded.kernel.numpy())(x).numpy()
    np.testing.assert_allclose(tf.cast(y, tf.float32).numpy(), expected, atol=0.05)  # bfloat16: 8 bits of mantissa


def test_resize_conv_refuses_what_it_does_not_compute():
    with pytest.raises(ValueError, match="stride-1"):
        L.ResizeConv2D(4, 3, strides=2)
    with pytest.raises(ValueError, match="square"):
        L.ResizeConv2D(4, (3, 5))
    with pytest.raises(ValueError, match="stride-1"):
        L.ResizeConv1D(4, 3, dilation_rate=2)


@pytest.mark.parametrize("kind", ["conv2d", "conv1d"])
def test_folded_generator_computes_the_unfolded_one_and_reads_its_old_weight_files(tmp_path, kind):
    """The weights of a generator saved before ResizeConv2D/1D (UpSampling + Conv layers) load into today's."""
    from audiowgan.core.settings import ModelSpec

    spec = ModelSpec.from_mapping(kind=kind, generator_channels=[16, 8, 4], critic_channels=[4], noise_dim=8)
    old, _ = M.build_networks(spec, (20, 12), writeup_layers=True)
    z = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    old(z, training=True)  # moves the BatchNorm statistics off their initial values
    old.save_weights(tmp_path / "old.weights.h5")
    new, _ = M.build_networks(spec, (20, 12))
    assert len(new.layers) == len(old.layers) - 2  # one layer where the pair was, per upsampling block
    model_files.load_generator_weights(new, tmp_path / "old.weights.h5", spec, (20, 12))
    np.testing.assert_allclose(new(z, training=False).numpy(), old(z, training=False).numpy(), atol=1e-5)
    new.save_weights(tmp_path / "new.weights.h5")
    again, _ = M.build_networks(spec, (20, 12))
    model_files.load_generator_weights(again, tmp_path / "new.weights.h5", spec, (20, 12))
    assert all(np.array_equal(a, b) for a, b in zip(again.get_weights(), new.get_weights()))


def test_checkpoints_of_the_unfolded_generator_are_not_resumed_and_others_still_are():
    """Checkpoints name variables by layer position, so one written before ResizeConv2D/1D cannot be restored
    into today's resize generators: its fingerprint (the formula of before, without the layout) differs, and
    training starts fresh instead of failing on the restore; the transpose generator's still matches."""
    import hashlib
    import json

    from audiowgan.core.settings import ModelSpec, TrainSpec
    from audiowgan.nn.state import fingerprint

    tp = TrainSpec.from_mapping()  # train.gp_every at its off value (1) is left out, as it did not exist then
    train = {k: v for k, v in tp.to_dict().items() if k not in TrainSpec.NOT_FINGERPRINTED + tuple(TrainSpec.ADDED_OFF)}
    for kind, upsample, resumed in (
        ("conv2d", "resize", False),
        ("conv1d", "resize", False),
        ("conv2d", "transpose", True),
    ):
        mp = ModelSpec.from_mapping(kind=kind, upsample=upsample, **ModelSpec.ADDED_OFF)  # as then
        model = {k: v for k, v in mp.to_dict().items() if k not in ModelSpec.ADDED_OFF}
        doc = {"model": model, "train": train, "meta": {}, "index_sha256": hashlib.sha256(b"").hexdigest()}
        before = hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
        assert (fingerprint(mp, tp, {}, b"") == before) == resumed
        for changed in ({"gp_every": 3}, {"critic_learning_rate": 4e-4}, {"mode_seeking": 1.0}):
            assert fingerprint(mp, TrainSpec.from_mapping(**changed), {}, b"") != fingerprint(mp, tp, {}, b"")


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_leaky_relu_is_keras_leaky_relu_in_value_and_gradient(dtype):
    x = np.random.default_rng(0).standard_normal((4, 5, 6, 3)) * 3
    x[0, 0] = 0.0  # exact zeros: where max(.) could pick another gradient than Keras's
    x = tf.constant(x, dtype=dtype)
    ours, theirs = M.LeakyReLU(M.LEAKY_SLOPE), keras.layers.LeakyReLU(M.LEAKY_SLOPE)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a, b = ours(x), theirs(x)
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(a.numpy().astype(np.float32), b.numpy().astype(np.float32))
    np.testing.assert_array_equal(tape.gradient(a, x).numpy().astype(np.float32),
                                  tape.gradient(b, x).numpy().astype(np.float32))  # fmt: skip
    assert ours.name.startswith("leaky_re_lu")  # weight files name layers by class: as Keras's


@pytest.mark.parametrize("kind", ["conv2d", "conv1d"])
def test_critic_weight_files_written_with_keras_leaky_relu_load_into_ours(tmp_path, kind):
    from audiowgan.core.settings import ModelSpec

    spec = ModelSpec.from_mapping(kind=kind, generator_channels=[8, 4], critic_channels=[4, 8], noise_dim=4)
    _, old = M.build_networks(spec, (16, 12), writeup_layers=True)
    old.save_weights(tmp_path / "critic.weights.h5")
    _, new = M.build_networks(spec, (16, 12))
    new.load_weights(tmp_path / "critic.weights.h5")
    x = np.random.default_rng(0).uniform(-1, 1, (3, 16, 12, 1)).astype(np.float32)
    np.testing.assert_allclose(new(x).numpy(), old(x).numpy(), rtol=1e-6)


def test_the_compiled_train_step_keeps_the_graph_optimizers_fusions():
    """Keras's LeakyReLU after the critic's Conv2D + BiasAdd made TensorFlow's remapper fail on the penalty's
    gradient and drop every fusion of the step (it logs "remapper failed"); ours must not. The write-up's layers
    are the control: where they do not fail either (a TensorFlow without that fusion), there is nothing to test."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = """
import sys
import tensorflow as tf
from audiowgan.core.settings import ModelSpec, TrainSpec
from audiowgan.nn import model as M
from audiowgan.nn.state import make_optimizer
from audiowgan.nn.step import WGANGP
mp = ModelSpec.from_mapping(noise_dim=8, generator_channels=[16, 8], critic_channels=[8, 16])
g, c = M.build_networks(mp, (16, 16), writeup_layers=sys.argv[1] == "writeup")
tp = TrainSpec.from_mapping(batch_size=4)
gan = WGANGP(g, c, make_optimizer(tp), make_optimizer(tp), tf.random.Generator.from_seed(0), noise_dim=8,
             d_steps=2, gp_weight=10.0)
gan.step(tf.zeros((4, 16, 16, 1)))
print("stepped")
"""
    scripts = Path(M.__file__).resolve().parents[2]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"}  # the failure is logged at ERROR level

    def step(layers: str) -> str:
        run = subprocess.run([sys.executable, "-c", code, layers], capture_output=True, text=True, cwd=scripts,
                             env=env, timeout=300)  # fmt: skip
        assert "stepped" in run.stdout, run.stderr[-2000:]
        return run.stderr

    if "remapper failed" not in step("writeup"):
        pytest.skip("this TensorFlow does not fuse the critic's LeakyReLU, so it cannot fail on it")
    assert "remapper failed" not in step("ours")


def test_minibatch_std_adds_each_groups_mean_standard_deviation_as_a_channel():
    x = np.random.default_rng(5).normal(size=(8, 3, 5, 2)).astype(np.float32)
    out = M.MinibatchStd(4)(x).numpy()
    assert out.shape == (8, 3, 5, 3)
    np.testing.assert_array_equal(out[..., :2], x)
    for g in range(2):  # consecutive rows 0-3 and 4-7, population std over each group, averaged over features
        expected = np.sqrt(x[4 * g : 4 * g + 4].var(axis=0) + 1e-8).mean()
        np.testing.assert_allclose(out[4 * g : 4 * g + 4, ..., 2], expected, rtol=1e-5)
    same = np.repeat(x[:1], 4, axis=0)
    assert np.allclose(M.MinibatchStd(4)(same).numpy()[..., -1], 1e-4)  # identical examples: no variety


@pytest.mark.parametrize("build", [M.build_critic, M.build_critic_1d])
def test_minibatch_std_critic_never_mixes_real_and_generated_rows(build):
    critic = build(channels=[4, 8, 16], input_shape=(16, 20), minibatch_std=4)
    assert "minibatch_std" in {layer.name for layer in critic.layers}
    assert critic.count_params() > build(channels=[4, 8, 16], input_shape=(16, 20)).count_params()
    rng = np.random.default_rng(6)
    real, fake = (rng.uniform(-1, 1, (8, 16, 20, 1)).astype(np.float32) for _ in range(2))
    scores = critic(np.concatenate([real, fake])).numpy()
    other = critic(np.concatenate([real, 0.1 * fake])).numpy()
    np.testing.assert_allclose(scores[:8], other[:8], rtol=1e-6)  # real rows' groups hold real rows only
    assert not np.allclose(scores[8:], other[8:])  # the generated rows' variety is seen
    assert objective.mean_scores(critic, real, fake)[0].numpy() == pytest.approx(scores[:8].mean(), rel=1e-5)


def test_clip_stats_are_each_bands_mean_and_spread_over_the_clip():
    x = np.random.default_rng(7).uniform(-1, 1, (3, 4, 10, 1)).astype(np.float32)
    out = M.ClipStats()(x).numpy()
    assert out.shape == (3, 8) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, :4], x[..., 0].mean(axis=2), rtol=1e-5)
    np.testing.assert_allclose(out[:, 4:], np.sqrt(x[..., 0].var(axis=2) + 1e-6), rtol=1e-5)


@pytest.mark.parametrize("build", [M.build_critic, M.build_critic_1d])
def test_clip_stats_critic_scores_the_clips_texture_and_keeps_a_finite_penalty_on_a_steady_mel(build):
    critic = build(channels=[4, 8], input_shape=(8, 12), clip_stats=True)
    assert {"clip_stats", "clip_stats_dense"} <= {layer.name for layer in critic.layers}
    assert critic.count_params() > build(channels=[4, 8], input_shape=(8, 12)).count_params()
    steady = np.full((4, 8, 12, 1), -0.5, np.float32)  # every band flat over the clip: std 0
    losses = objective.critic_losses(critic, steady, steady, np.full((4, 1, 1, 1), 0.5, np.float32), 10.0)
    assert all(np.isfinite(v.numpy()) for v in losses.values())
    stats = critic.get_layer("clip_stats_dense")
    moved = np.random.default_rng(8).uniform(-1, 1, steady.shape).astype(np.float32)
    with tf.GradientTape() as tape:
        score = critic(moved)
    assert np.abs(tape.gradient(score, stats.kernel).numpy()).sum() > 0  # the statistics reach the score


def test_modulate_scales_and_shifts_each_examples_channels():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    scale, shift = (rng.standard_normal((2, 5)).astype(np.float32) for _ in range(2))
    out = M.Modulate()([x, scale, shift]).numpy()
    np.testing.assert_allclose(out, x * (1 + scale[:, None, None, :]) + shift[:, None, None, :], rtol=1e-6)
    x1 = x[:, 0]  # (B, frames, C): the conv1d generator's features
    np.testing.assert_allclose(M.Modulate()([x1, scale, shift]).numpy(), x1 * (1 + scale[:, None]) + shift[:, None])


@pytest.mark.parametrize("kind", ["conv2d", "conv1d"])
def test_self_modulated_generator_takes_every_batchnorms_scale_and_offset_from_the_noise(kind):
    from audiowgan.core.settings import ModelSpec

    args = {"kind": kind, "generator_channels": [16, 8, 4], "critic_channels": [4, 8], "noise_dim": 6}
    plain, _ = M.build_networks(ModelSpec.from_mapping(**args), (12, 10))
    modulated, _ = M.build_networks(ModelSpec.from_mapping(**args, generator_self_modulation=True), (12, 10))
    norms = [layer for layer in modulated.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 3 and not any(n.center or n.scale for n in norms)  # no learnt scale or offset of their own
    assert {f"{n.name}_modulate" for n in norms} <= {layer.name for layer in modulated.layers}
    assert modulated.count_params() > plain.count_params()
    z = tf.random.stateless_normal((4, 6), seed=(0, 3))
    with tf.GradientTape() as tape:
        out = modulated(z, training=True)
        loss = tf.reduce_sum(out * tf.random.stateless_normal(out.shape, seed=(0, 4)))
    assert out.shape == (4, 12, 10, 1) and out.numpy().max() <= 1.0
    variables = modulated.trainable_variables
    grads = dict(zip([v.path for v in variables], tape.gradient(loss, variables)))
    for n in norms:  # every BatchNorm's modulation is trained
        assert np.abs(grads[f"{n.name}_hidden/kernel"].numpy()).sum() > 0


def test_band_position_is_one_channel_more_each_rows_position_from_minus_one_to_one_in_every_frame():
    x = np.random.default_rng(10).uniform(-1, 1, (2, 4, 3, 2)).astype(np.float32)
    out = M.BandPosition()(x).numpy()
    assert out.shape == (2, 4, 3, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[..., :2], x)
    np.testing.assert_allclose(
        out[..., 2], np.broadcast_to(np.array([-0.75, -0.25, 0.25, 0.75])[None, :, None], (2, 4, 3))
    )
    wide = M.BandPosition()(tf.zeros((1, 256, 1, 1), tf.bfloat16)).numpy()[0, :, 0, 1]
    assert len(set(wide.tolist())) == 256  # 256 bands stay 256 positions in bfloat16


def test_band_position_networks_give_every_convolution_the_rows_position():
    from audiowgan.core.settings import ConfigError, ModelSpec

    args = {"generator_channels": [16, 8, 4], "critic_channels": [4, 8], "noise_dim": 6}
    plain_g, plain_c = M.build_networks(ModelSpec.from_mapping(**args), (12, 10))
    g, c = M.build_networks(ModelSpec.from_mapping(**args, band_position=True), (12, 10))
    convs = {"g": [8, 4, 1], "c": [4, 8]}  # each convolution's output channels: one input channel more each
    assert g.count_params() - plain_g.count_params() == sum(3 * 3 * n for n in convs["g"])
    assert c.count_params() - plain_c.count_params() == sum(5 * 5 * n for n in convs["c"])
    assert sum(isinstance(layer, M.BandPosition) for layer in g.layers) == 3
    assert sum(isinstance(layer, M.BandPosition) for layer in c.layers) == 2
    z = tf.random.stateless_normal((3, 6), seed=(0, 5))
    mels = g(z, training=True)
    assert mels.shape == (3, 12, 10, 1) and mels.numpy().max() <= 1.0 and mels.numpy().min() >= -1.0
    first = c.get_layer("down0")
    with tf.GradientTape() as tape:
        score = tf.reduce_sum(c(mels))
    assert np.abs(tape.gradient(score, first.kernel).numpy()[:, :, 1, :]).sum() > 0  # the position reaches the score
    with pytest.raises(ConfigError, match="band_position' = True is for model.kind conv2d"):
        ModelSpec.from_mapping(**args, kind="conv1d", band_position=True)  # so build_networks never sees it


def test_new_model_keys_are_off_in_a_model_json_and_a_checkpoint_written_before_them():
    from audiowgan.core.settings import ModelSpec, TrainSpec
    from audiowgan.nn.state import fingerprint

    assert ModelSpec.from_mapping().critic_minibatch_std == 0 and ModelSpec.from_mapping().generator_peak_norm is True
    assert "minibatch_std" not in {layer.name for layer in M.build_critic(channels=[4, 8], input_shape=(8, 8)).layers}
    old = ModelSpec.from_meta({"noise_dim": 4, "generator_channels": [8, 4], "critic_channels": [4], "kernel_size": 5})
    assert old.critic_minibatch_std == 0 and old.generator_peak_norm is False
    assert old.critic_clip_stats is False and ModelSpec.from_mapping().critic_clip_stats is True
    assert old.generator_self_modulation is False and old.band_position is False
    # The defaults' checkpoint fingerprint as computed before the keys existed (on bb3cf1b): a checkpoint of those
    # settings is still resumed; one of the tanh output and the plain critic is not resumed into today's defaults.
    before = "353016c46e4793fbb2e2b2af33aed5d17e7e65b95e4f56cc829398583c2a8c2b"
    plain = ModelSpec.from_mapping(generator_peak_norm=False, critic_clip_stats=False)
    assert fingerprint(plain, TrainSpec.from_mapping(), {"n_mels": 64}, b"row\n") == before
    changes = ({"generator_peak_norm": True}, {"critic_clip_stats": True}, {"critic_minibatch_std": 4},
               {"generator_self_modulation": True}, {"band_position": True})  # fmt: skip
    for changed in changes:
        spec = ModelSpec.from_mapping(**(plain.to_dict() | changed))
        assert fingerprint(spec, TrainSpec.from_mapping(), {"n_mels": 64}, b"row\n") != before


@pytest.mark.parametrize("kind", ["conv2d", "conv1d"])
def test_peak_norm_generator_is_the_plain_one_shifted_so_each_mels_peak_is_one(kind):
    from audiowgan.core.settings import ModelSpec

    args = {"kind": kind, "generator_channels": [16, 8], "critic_channels": [4, 8], "noise_dim": 4}
    plain, _ = M.build_networks(ModelSpec.from_mapping(**args, generator_peak_norm=False), (12, 10))
    assert "peak_norm" not in {layer.name for layer in plain.layers}
    peaked, _ = M.build_networks(ModelSpec.from_mapping(**args, generator_peak_norm=True), (12, 10))
    peaked.set_weights(plain.get_weights())  # no weights of its own
    z = tf.random.stateless_normal((5, 4), seed=(0, 1))
    x, y = plain(z, training=False).numpy(), peaked(z, training=False).numpy()
    np.testing.assert_allclose(y, x - x.max(axis=(1, 2, 3), keepdims=True) + 1.0, atol=1e-6)
    assert np.allclose(y.max(axis=(1, 2, 3)), 1.0) and y.min() >= -1.0
    with tf.GradientTape() as tape:
        out = peaked(z, training=True)
        loss = tf.reduce_sum(out * tf.random.stateless_normal(out.shape, seed=(0, 2)))
    grads = tape.gradient(loss, peaked.trainable_variables)
    assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)
