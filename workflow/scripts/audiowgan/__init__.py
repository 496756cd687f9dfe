"""audio-wgan: the shared module behind the workflow's rule scripts.

Layers (arrows point down only; nothing below ``model`` imports TensorFlow):
``sources`` -> ``audio`` -> ``features`` -> ``dataset`` -> ``model`` -> ``training``,
``inversion`` and ``metrics`` beside them.
"""

__version__ = "0.1.0"
