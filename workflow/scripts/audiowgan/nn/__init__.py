"""nn: everything that runs TensorFlow/Keras, and the only folder that imports them.

``model`` (networks), ``step`` (one WGAN-GP step), ``augment`` (DiffAugment), ``batches`` (data order and
reads), ``state`` (what a checkpoint holds), ``losses`` (losses.csv), ``loop`` and ``callbacks``,
``devices`` (threads, GPUs, precision, strategy), ``train`` (rule ``train``), ``crepe`` and ``musicnn``
(pretrained embeddings; ``musicnn_network``: musicnn's network and checkpoint) and ``griffinlim``
(Griffin-Lim on TensorFlow, passed to :mod:`audiowgan.dsp.inversion`).
"""
