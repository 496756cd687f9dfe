"""audio-wgan: the shared module behind the workflow's rule scripts. Its folders are its layers.

Arrows point down only: a module imports modules of its own folder and of folders listed above
its own, never below (``tests/test_layout.py`` walks every import with ``ast`` and checks
:data:`LAYERS`). Only ``nn`` imports TensorFlow or Keras. Rule scripts (``workflow/scripts/<rule>.py``)
import modules; modules never import scripts. :data:`RULES` says which module each rule calls.
"""

__version__ = "0.1.0"

LAYERS = {  # folder: what it holds (and, by its place in this table, what it may import: the folders above it)
    "core": "typed settings and config checks, atomic writes, job logs, the rules' code inputs (stdlib, yaml)",
    "dsp": "audio I/O and loudness, STFT and the mel filter bank, Griffin-Lim in numpy (numpy, scipy, librosa)",
    "ingest": "sources.tsv -> tracks, yt-dlp downloads with retries, track status, demo sources (yt-dlp, pandas)",
    "data": "packing the per-track mels into one dataset, its splits (numpy, pandas)",
    "nn": "networks, the WGAN-GP step and training, devices and precision, CREPE and musicnn, Griffin-Lim on TensorFlow",
    "render": "clips and long pieces from a trained generator",
    "look": "distances, evaluation, the copy check, plots and the HTML report",
}

RULES = {  # rule: the module its script (workflow/scripts/<rule>.py) calls
    "tracks": "ingest.tracks",
    "download": "ingest.download",
    "track_status": "ingest.track_status",
    "segment": "dsp.audio",
    "mel": "dsp.mel",
    "pack": "data.pack",
    "train": "nn.train",
    "generate": "render.generate",
    "longform": "render.longform",
    "evaluate": "look.evaluate",
    "nearest": "look.nearest",
    "plots": "look.plots",
    "report": "look.report",
    "compare": "look.compare",
}
