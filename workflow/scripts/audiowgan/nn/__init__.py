"""nn: everything that runs TensorFlow/Keras, and the only folder that imports them.

``model`` (networks), ``step`` (one WGAN-GP step), ``augment`` (DiffAugment), ``batches`` (data order and
reads), ``state`` (what a checkpoint holds), ``losses`` (losses.csv), ``loop`` and ``callbacks``,
``devices`` (threads, GPUs, precision, strategy), ``train`` (rule ``train``), ``crepe`` and ``musicnn``
(pretrained embeddings; ``musicnn_network``: musicnn's network and checkpoint) and ``griffinlim``
(Griffin-Lim on TensorFlow, passed to :mod:`audiowgan.dsp.inversion`).
"""

import os
import platform

# TensorFlow's x86 CPU build computes with oneDNN only where the CPU has AVX512-VNNI, AVX512-BF16 or AMX;
# elsewhere (AVX2 alone) it falls back to Eigen, whose stride-2 transposed convolution (the generator's
# folded upsampling) ran 3.5x slower on a 2-core AVX2 CPU, and the whole training step 1.6x slower
# (docs/training.md). TensorFlow reads the switch once, when it is imported, and only this package imports
# it: so it is set here, unless the environment says otherwise (TF_ENABLE_ONEDNN_OPTS=0 keeps Eigen).
if platform.machine().lower() in ("x86_64", "amd64"):
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
