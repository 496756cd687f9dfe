"""audio-wgan: the shared module behind the workflow's rule scripts.

Layers (imports point down only; scripts import modules, modules never import scripts):

- ``settings`` (typed config sections, schema checks), ``atomic`` (safe writes), ``runlog``, ``imports``
- ``sources`` (yt-dlp), ``audio`` (decoding, segments, WAV, loudness), ``policy`` (track outcomes, on_error)
- ``features`` (mel), ``dataset`` (packing, splits), ``inversion`` (mel to audio), ``metrics``
- ``evaluation``, ``plots``, ``report`` (the look stages), ``config`` (whole-config checks), ``demo``
- ``model``, ``training``, ``generation``, ``perceptual`` (CREPE) and ``devices`` (threads, device
  report): the only modules that import TensorFlow (the last two lazily, inside their functions). ``inversion`` uses
  it only when it is already loaded and sees a GPU (its optional fast backend).
"""

__version__ = "0.1.0"
