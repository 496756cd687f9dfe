"""dsp: audio decoding, segments, WAV and loudness (``audio``); the mel spectrogram and its scaling (``mel``);
mel to audio with Griffin-Lim in numpy (``inversion``). numpy, scipy, librosa, soundfile; no TensorFlow."""
