"""Config checks run by the Snakefile before any job: types, bounds, cross-field rules; and the parameter
checks that the mel, inversion and CREPE code share (one message for one rule, wherever it is broken).

``--config "mel={hop_length: 256}"`` hands values over as strings; :func:`coerce`
converts them to the types the schema asks for, and :func:`check` turns every
problem into one line naming the key, the value and the rule. Imports numpy, never librosa:
this runs every time the Snakefile is parsed.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from audiowgan.core import experiments
from audiowgan.core.settings import AudioSpec, ConfigError, ModelSpec, TrainSpec, coerce, fill_defaults, validate


def check(config: dict, schema: dict) -> dict:
    """Coerce, fill defaults and validate; raise ConfigError with one clear line on the first problem.

    Defaults come first: as a module of another workflow, the host's config is all there is (the
    module's configfile is not read), and a key it omits means the schema's default, as it does in a
    standalone run, where config/config.yaml holds exactly those defaults.
    """
    experiments.check_overrides(config.get("experiments"))  # first: says why `audio` is refused there
    config = coerce(config, schema)
    fill_defaults(config, schema)
    validate(config, schema)
    _cross_checks(config)
    return config


def _cross_checks(config: dict) -> None:
    mel = config["mel"]
    try:
        check_mel_params(
            sample_rate=config["audio"]["sample_rate"],
            n_fft=mel["n_fft"],
            hop_length=mel["hop_length"],
            n_mels=mel["n_mels"],
            top_db=mel["top_db"],
            fmin=mel["fmin"],
            fmax=mel["fmax"],
        )
    except ValueError as exc:
        raise ConfigError(f"config section 'mel': {exc}") from None
    seg_samples = config["audio"]["segment_seconds"] * config["audio"]["sample_rate"]
    if seg_samples < mel["n_fft"]:
        raise ConfigError(
            f"config key 'audio.segment_seconds' = {config['audio']['segment_seconds']}: a segment of "
            f"{int(seg_samples)} samples is shorter than mel.n_fft = {mel['n_fft']}"
        )
    AudioSpec.from_mapping(config["audio"])  # its own rules: a hop of at most one segment, at least one sample
    ModelSpec.from_mapping(config["model"])  # its own rule: the band position is for conv2d
    TrainSpec.from_mapping(config["train"])  # its own rule: gp_every divides d_steps


# ------------------------------------------------------------------------------------ parameter checks


def positive_int(name: str, value) -> int:
    """``value`` as an int; ValueError naming it unless it is a positive integer (bools are not)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value <= 0:
        raise ValueError(f"{name}={value!r} must be a positive integer")
    return int(value)


def check_hop(hop_length: int, n_fft: int) -> None:
    if hop_length > n_fft:
        raise ValueError(f"hop_length={hop_length} must not exceed n_fft={n_fft} (frames would skip samples)")


def check_band(fmin, fmax, sample_rate: int) -> float:
    """The effective fmax (Nyquist when None); ValueError unless 0 <= fmin < fmax <= sample_rate / 2."""
    nyquist = sample_rate / 2
    fmax_eff = nyquist if fmax is None else fmax
    if not isinstance(fmin, Real) or not isinstance(fmax_eff, Real) or not 0 <= fmin < fmax_eff <= nyquist:
        raise ValueError(f"fmin={fmin!r} and fmax={fmax!r} must satisfy 0 <= fmin < fmax <= sample_rate/2={nyquist}")
    return float(fmax_eff)


def check_mel_params(
    *,
    sample_rate: int,
    n_fft: int,
    hop_length: int,
    n_mels: int,
    top_db: float,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> None:
    """Raise ValueError naming the first bad mel parameter, its value and the rule it breaks."""
    for name, value in (("sample_rate", sample_rate), ("n_fft", n_fft), ("hop_length", hop_length), ("n_mels", n_mels)):
        positive_int(name, value)
    check_hop(hop_length, n_fft)
    if not top_db > 0:
        raise ValueError(f"top_db={top_db!r} must be positive")
    fmax_eff = check_band(fmin, fmax, sample_rate)
    if not _filters_cover_bins(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax_eff):
        max_mels = max_n_mels(sample_rate=sample_rate, n_fft=n_fft, fmin=fmin, fmax=fmax_eff)
        raise ValueError(
            f"n_mels={n_mels} exceeds what n_fft={n_fft} supports at {sample_rate} Hz "
            f"(at most {max_mels} mel bands without empty filters)"
        )


def _filters_cover_bins(*, sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> bool:
    """True if every triangular mel filter of librosa.filters.mel has a nonzero weight.

    Filter i rises from mel point i to i+1 and falls to i+2, so it is nonzero exactly
    when some STFT bin lies strictly between points i and i+2. Checked with librosa's
    frequency grids (:func:`_slaney_mel_points`, ``np.fft.rfftfreq`` as librosa's fft_frequencies),
    without importing librosa: this check runs every time the Snakefile is parsed.
    """
    points = _slaney_mel_points(n_mels + 2, fmin=fmin, fmax=sample_rate / 2 if fmax is None else fmax)
    bins = np.fft.rfftfreq(n=n_fft, d=1.0 / sample_rate)
    lo = np.searchsorted(bins, points[:-2], side="right")  # first bin above point i
    hi = np.searchsorted(bins, points[2:], side="left")  # first bin at or above point i+2
    return bool(np.all(hi > lo))


def max_n_mels(*, sample_rate: int, n_fft: int, fmin: float = 0.0, fmax: float | None = None) -> int:
    """Largest n_mels whose mel filters all cover at least one STFT bin."""
    lo, hi = 1, 4 * (n_fft // 2 + 1)  # overlapping filters can outnumber the bins
    while lo < hi:  # empty filters only appear above some n_mels: bisect for it
        mid = (lo + hi + 1) // 2
        if _filters_cover_bins(sample_rate=sample_rate, n_fft=n_fft, n_mels=mid, fmin=fmin, fmax=fmax):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _slaney_mel_points(n: int, *, fmin: float, fmax: float) -> np.ndarray:
    """``n`` frequencies (Hz) evenly spaced on the Slaney mel scale: librosa's ``mel_frequencies`` (htk=False),
    the same arithmetic, so the grid is the one its filter bank uses."""
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0

    def hz_to_mel(f: float) -> float:
        return min_log_mel + np.log(f / min_log_hz) / logstep if f >= min_log_hz else f / f_sp

    mels = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n)
    freqs = f_sp * mels
    log_t = mels >= min_log_mel
    freqs[log_t] = min_log_hz * np.exp(logstep * (mels[log_t] - min_log_mel))
    return freqs
