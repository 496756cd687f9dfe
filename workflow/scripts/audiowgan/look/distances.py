"""Distances: Frechet between mel-frame statistics or embeddings, the kernel distance (KID), and the
inversion's own error.

A generated clip can sound wrong for two reasons: the generator's mel is off, or
Griffin-Lim could not turn even a correct mel into matching audio. The Frechet
distance compares mels (model error only); :func:`griffin_lim_round_trip_error`
measures the second on real segments, whose mels are right by construction, so a
report can show how much of the audible error inversion alone explains. The Frechet and
kernel distances also compare CREPE frame embeddings (:mod:`audiowgan.nn.crepe`), in
:func:`audiowgan.look.evaluate.perceptual_distances`.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from audiowgan.core.check import positive_int
from audiowgan.dsp import inversion
from audiowgan.dsp import mel as features

__all__ = [
    "clip_spread",
    "frechet_distance",
    "gaussian_frechet_distance",
    "griffin_lim_round_trip",
    "griffin_lim_round_trip_error",
    "kernel_distance",
    "mel_frame_stats",
    "spectral_convergence",
]


def mel_frame_stats(mels: np.ndarray) -> np.ndarray:
    """Pool the frames of a batch of mels into one sample per frame.

    Parameters
    ----------
    mels : np.ndarray [shape=(N, n_mels, frames) or (n_mels, frames)]
        Mels in any consistent scaling (the workflow's [-1, 1] is the natural one).

    Returns
    -------
    np.ndarray [shape=(N * frames, n_mels)], float64
        One row per frame, ready for :func:`frechet_distance`.
    """
    mels = np.asarray(mels, dtype=np.float64)
    if mels.ndim == 2:
        mels = mels[None]
    if mels.ndim != 3:
        raise ValueError(f"mels.shape={mels.shape} must be (N, n_mels, frames) or (n_mels, frames)")
    return mels.transpose(0, 2, 1).reshape(-1, mels.shape[1])


def clip_spread(mels: np.ndarray) -> dict[str, float]:
    """How much a set of clips differ from each other, and how much each moves over its own length.

    The Frechet distance of :func:`mel_frame_stats` pools frames, so it cannot tell a set of clips that each
    hold one texture from a set whose clips each drift through all of them: both have the same frames.
    These two numbers can, and a real set is their reference.

    Parameters
    ----------
    mels : np.ndarray [shape=(N, n_mels, frames)], N >= 2

    Returns
    -------
    dict
        ``between``: the standard deviation over clips of each clip's mean spectrum, averaged over bands;
        ``within``: each band's standard deviation over a clip's frames, averaged over bands and clips.
    """
    mels = np.asarray(mels, dtype=np.float64)
    if mels.ndim != 3 or len(mels) < 2:
        raise ValueError(f"mels.shape={mels.shape} must be (N >= 2, n_mels, frames)")
    return {"between": float(mels.mean(axis=2).std(axis=0).mean()), "within": float(mels.std(axis=2).mean())}


def _as_frames(name: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]  # 1-D samples: one feature
    if x.ndim != 2:
        raise ValueError(f"{name}.shape={x.shape} must be (n_frames, n_features)")
    if x.shape[0] < 2:
        raise ValueError(f"{name} has {x.shape[0]} frames; a covariance needs at least 2")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite")
    return x


def gaussian_frechet_distance(
    mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray, *, eps: float = 1e-6
) -> float:
    """Frechet (2-Wasserstein squared) distance between two Gaussians.

    ``||mu_a - mu_b||^2 + tr(cov_a) + tr(cov_b) - 2 tr((cov_a cov_b)^(1/2))``.

    Parameters
    ----------
    mu_a, mu_b : np.ndarray [shape=(d,)]
    cov_a, cov_b : np.ndarray [shape=(d, d)], symmetric positive semi-definite
    eps : float
        Added to both diagonals when the matrix square root of a nearly singular
        product is not finite (the FID safeguard).

    Returns
    -------
    float >= 0
    """
    import scipy.linalg

    mu_a, mu_b = np.atleast_1d(np.asarray(mu_a, np.float64)), np.atleast_1d(np.asarray(mu_b, np.float64))
    cov_a, cov_b = np.atleast_2d(np.asarray(cov_a, np.float64)), np.atleast_2d(np.asarray(cov_b, np.float64))
    if mu_a.shape != mu_b.shape or cov_a.shape != cov_b.shape or cov_a.shape != mu_a.shape * 2:
        raise ValueError(
            f"shapes mu_a={mu_a.shape}, cov_a={cov_a.shape}, mu_b={mu_b.shape}, cov_b={cov_b.shape} must be (d,), (d, d)"
        )
    covmean = scipy.linalg.sqrtm(cov_a @ cov_b)
    if not np.all(np.isfinite(covmean)):
        offset = np.eye(len(mu_a)) * eps
        covmean = scipy.linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    if np.iscomplexobj(covmean):
        # Round-off gives small imaginary parts for a product of PSD matrices; a large
        # one means the input was not a covariance.
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3 * max(1.0, np.abs(covmean).max())):
            raise ValueError(f"sqrtm(cov_a @ cov_b) has imaginary part {np.abs(covmean.imag).max():.3g}")
        covmean = covmean.real
    diff = mu_a - mu_b
    d = float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean))
    return max(d, 0.0)  # tiny negatives are round-off


def frechet_distance(a_frames: np.ndarray, b_frames: np.ndarray) -> float:
    """Frechet distance between Gaussian fits of two sets of mel frames.

    Each set is summarised by its mean and covariance (``np.cov``, ``ddof=1``); the
    distance is :func:`gaussian_frechet_distance` of the two fits. Symmetric, 0 for
    identical sets; like FID it is biased upwards for few frames, so compare values
    computed from the same number of frames.

    Parameters
    ----------
    a_frames, b_frames : np.ndarray [shape=(n_frames, n_mels) or (n_frames,)]
        Rows are frames, e.g. from :func:`mel_frame_stats`; the feature counts must match.

    Returns
    -------
    float >= 0
    """
    a = _as_frames("a_frames", a_frames)
    b = _as_frames("b_frames", b_frames)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a_frames has {a.shape[1]} features and b_frames {b.shape[1]}; they must match")
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    return gaussian_frechet_distance(a.mean(axis=0), cov_a, b.mean(axis=0), cov_b)


def griffin_lim_round_trip_error(segments_audio: np.ndarray, **kwargs) -> np.ndarray:
    """Spectral convergence of real segments sent through mel and back: :func:`griffin_lim_round_trip`'s errors."""
    return griffin_lim_round_trip(segments_audio, **kwargs)[1]


def griffin_lim_round_trip(
    segments_audio: np.ndarray,
    *,
    sample_rate: int,
    n_fft: int,
    hop_length: int,
    n_mels: int,
    top_db: float,
    fmin: float = 0.0,
    fmax: float | None = None,
    n_iter: int = 32,
    method: str = "fast",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Real segments sent through mel and back: the audio, and its spectral convergence.

    Each segment goes through the workflow's own path: ``features.mel_power``,
    ``features.scale`` to [-1, 1] float32, ``features.unscale``, then
    :func:`audiowgan.dsp.inversion.mel_to_audio`. The STFT magnitude of the result is compared
    with the segment's, scaled by the same peak the mel was normalised by.

    Parameters
    ----------
    segments_audio : np.ndarray [shape=(N, samples) or (samples,)]
        Real audio segments, mono, at ``sample_rate``.
    sample_rate, n_fft, hop_length, n_mels, top_db, fmin, fmax
        The mel settings (as in the workflow's config).
    n_iter, method, seed
        Passed to :func:`audiowgan.dsp.inversion.mel_to_audio`.

    Returns
    -------
    audio : np.ndarray [shape=(N, samples)], float32
        The segments as the inversion renders them from their own mels (the level of a peak-1 mel): the best
        a generator that produced exactly the real mels could sound, the inversion's ceiling.
    errors : np.ndarray [shape=(N,)], float64
        ``||S - S_hat||_F / ||S||_F`` per segment: the floor that inversion alone
        puts under any generated clip. Its mean is the figure to report.
    """
    segs = np.atleast_2d(np.asarray(segments_audio, dtype=np.float32))
    if segs.ndim != 2 or segs.shape[1] == 0:
        raise ValueError(f"segments_audio.shape={np.shape(segments_audio)} must be (N, samples) or (samples,)")
    features.check_mel_params(
        sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, top_db=top_db, fmin=fmin, fmax=fmax
    )
    mel_args = dict(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax)
    mels = np.stack([features.mel_power(s, **mel_args) for s in segs])  # (N, n_mels, frames)
    peaks = mels.reshape(len(mels), -1).max(axis=1)
    if np.any(peaks <= 0):
        raise ValueError(f"segments {np.flatnonzero(peaks <= 0).tolist()} are silent; their error is undefined")
    power = features.unscale(np.stack([features.scale(m, top_db=top_db) for m in mels]), top_db=top_db)
    audio = inversion.mel_to_audio(
        power,
        sample_rate=sample_rate,
        n_fft=n_fft,
        hop_length=hop_length,
        fmin=fmin,
        fmax=fmax,
        n_iter=n_iter,
        length=segs.shape[1],
        method=method,
        seed=seed,
    )
    true_mag = inversion.stft_magnitude(segs, n_fft=n_fft, hop_length=hop_length) / np.sqrt(peaks)[:, None, None]
    est_mag = inversion.stft_magnitude(audio, n_fft=n_fft, hop_length=hop_length)
    return np.asarray(audio, np.float32), np.array([spectral_convergence(t, e) for t, e in zip(true_mag, est_mag)])


def _as_rows(name: str, x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name}.shape={x.shape} must be (n_samples, n_features)")
    if x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError(f"{name}.shape={x.shape} needs at least 2 samples of at least 1 feature")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite")
    return x


def spectral_convergence(reference_mag: np.ndarray, estimate_mag: np.ndarray) -> float:
    """Spectral convergence ``||S - S_hat||_F / ||S||_F`` of two magnitude spectrograms.

    Parameters
    ----------
    reference_mag : np.ndarray [shape=(..., bins, frames)]
        The true magnitude ``S``; not all zero.
    estimate_mag : np.ndarray [shape=same as reference_mag]
        The estimate ``S_hat``.

    Returns
    -------
    float
        0 for a perfect estimate; 1 for an all-zero one.
    """
    ref = np.asarray(reference_mag, dtype=np.float64)
    est = np.asarray(estimate_mag, dtype=np.float64)
    if ref.shape != est.shape:
        raise ValueError(f"estimate_mag.shape={est.shape} must equal reference_mag.shape={ref.shape}")
    norm = np.linalg.norm(ref)
    if not np.isfinite(norm) or norm == 0:
        raise ValueError(f"reference_mag must be finite and not all zero (norm={norm})")
    return float(np.linalg.norm(ref - est) / norm)


# --------------------------------------------------------------------------- kernel distance (KID)


def _kernel(a: np.ndarray, b: np.ndarray, *, degree: int, gamma: float, coef0: float) -> np.ndarray:
    return (gamma * (a @ b.T) + coef0) ** degree


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray, **kernel) -> float:
    """Unbiased MMD^2 of the polynomial kernel: the diagonals of k(x, x) and k(y, y) are left out."""
    m, n = len(x), len(y)
    kxx, kyy, kxy = _kernel(x, x, **kernel), _kernel(y, y, **kernel), _kernel(x, y, **kernel)
    xx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    yy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(xx + yy - 2.0 * kxy.mean())


_GRAM_BLOCK = 1024  # rows of a Gram matrix computed at a time: memory O(block * rows), never O(rows^2)


def _subset_sums(a: np.ndarray, b: np.ndarray, sa: np.ndarray, sb: np.ndarray, **kernel) -> np.ndarray:
    """``sum_{i in A_s, j in B_s} k(a_i, b_j)`` for every subset s at once.

    ``sa`` (S, len(a)) and ``sb`` (S, len(b)) are 0/1 membership matrices. The Gram matrix is
    computed once, block of rows by block, instead of once per subset: ``sum = diag(sa K sb^T)``.
    """
    acc = np.zeros((len(sa), len(b)))
    for start in range(0, len(a), _GRAM_BLOCK):
        block = slice(start, start + _GRAM_BLOCK)
        acc += sa[:, block] @ _kernel(a[block], b, **kernel)
    return np.einsum("sj,sj->s", acc, sb)


def _kernel_diagonal(a: np.ndarray, *, degree: int, gamma: float, coef0: float) -> np.ndarray:
    return (gamma * np.einsum("ij,ij->i", a, a) + coef0) ** degree


def _members(draws: list[np.ndarray], n: int) -> np.ndarray:
    out = np.zeros((len(draws), n))
    for s, rows in enumerate(draws):
        out[s, rows] = 1.0
    return out


def _mmd2_subsets(x: np.ndarray, y: np.ndarray, draws_x, draws_y, **kernel) -> float:
    """The mean over subsets of :func:`_mmd2_unbiased` (the same value up to round-off), from one Gram matrix
    per pair of sets instead of one per subset: cheaper whenever the sets are not much larger than a subset."""
    size = len(draws_x[0])
    sx, sy = _members(draws_x, len(x)), _members(draws_y, len(y))
    diag_x, diag_y = (_kernel_diagonal(z, **kernel) for z in (x, y))
    xx = (_subset_sums(x, x, sx, sx, **kernel) - sx @ diag_x) / (size * (size - 1))
    yy = (_subset_sums(y, y, sy, sy, **kernel) - sy @ diag_y) / (size * (size - 1))
    xy = _subset_sums(x, y, sx, sy, **kernel) / (size * size)
    return float(np.mean(xx + yy - 2.0 * xy))


def whole_set_gram(m: int, n: int, *, subsets: int, size: int) -> bool:
    """Whether :func:`kernel_distance` computes one Gram matrix for the whole sets rather than one per subset.

    The whole sets cost (m + n)^2 kernel values, the subsets ``subsets * 4 * size^2`` (with their diagonal
    blocks): the whole-set Gram wins unless the sets are much larger than the subsets cover.
    """
    return (m + n) ** 2 <= subsets * 4 * size**2


def kernel_distance(
    x: np.ndarray,
    y: np.ndarray,
    *,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    subsets: int | None = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> float:
    """Kernel distance: the unbiased estimate of MMD^2 with a polynomial kernel (KID).

    With ``k(a, b) = (gamma * a.b + coef0) ** degree``, by default ``(a.b / d + 1)^3``
    for ``d`` features (Binkowski et al., "Demystifying MMD GANs", ICLR 2018), the
    estimate from ``m`` rows of ``x`` and ``n`` of ``y`` is::

        sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (n (n - 1))
            - 2 sum_{i, j} k(x_i, y_j) / (m n)

    Leaving out the diagonal terms ``k(x_i, x_i)`` makes it unbiased: its expected value
    is the population MMD^2, so 0 when both sets come from the same distribution, and a
    single estimate can then be negative (it is returned as is, not clipped). Unlike
    the Frechet distance its value does not drift with the number of rows, only its
    spread does. Rows are treated as independent draws; frames of one clip are not,
    which widens the spread but does not bias the mean.

    Parameters
    ----------
    x, y : np.ndarray [shape=(m, d) and (n, d)]
        Samples (e.g. :func:`audiowgan.nn.crepe.clip_embeddings`), finite, at least 2 rows each.
    degree : int > 0
        Polynomial degree (3 in KID).
    gamma : float > 0 or None
        Scale of the dot product; None for ``1 / d``.
    coef0 : float >= 0
        Constant term (1 in KID); non-negative keeps the kernel positive definite.
    subsets : int > 0 or None
        Average the estimate over this many random subsets (KID's 100) of
        ``min(subset_size, m, n)`` rows of each set, drawn without replacement; an
        average of unbiased estimates is unbiased. None: one estimate from all rows,
        which needs ``(m + n)^2`` floats of memory.
    subset_size : int >= 2
        Rows per subset (KID's 1000); unused when ``subsets`` is None.
    seed : int >= 0
        Seeds the subset draws: the same inputs and seed give the same value.

    Returns
    -------
    float
        The estimate, in squared kernel units (near 0: same distribution).
    """
    x = _as_rows("x", x)
    y = _as_rows("y", y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x has {x.shape[1]} features and y {y.shape[1]}; they must match")
    degree = positive_int("degree", degree)
    if gamma is None:
        gamma = 1.0 / x.shape[1]
    elif isinstance(gamma, bool) or not isinstance(gamma, Real) or not np.isfinite(gamma) or gamma <= 0:
        raise ValueError(f"gamma={gamma!r} must be a positive number or None (1 / n_features)")
    if isinstance(coef0, bool) or not isinstance(coef0, Real) or not np.isfinite(coef0) or coef0 < 0:
        raise ValueError(f"coef0={coef0!r} must be a non-negative number")
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    kernel = dict(degree=degree, gamma=float(gamma), coef0=float(coef0))
    if subsets is None:
        return _mmd2_unbiased(x, y, **kernel)
    subsets = positive_int("subsets", subsets)
    if isinstance(subset_size, bool) or not isinstance(subset_size, Integral) or subset_size < 2:
        raise ValueError(f"subset_size={subset_size!r} must be an integer >= 2")
    size = min(int(subset_size), len(x), len(y))
    rng = np.random.default_rng(seed)
    draws = [(rng.choice(len(x), size, replace=False), rng.choice(len(y), size, replace=False)) for _ in range(subsets)]
    if whole_set_gram(len(x), len(y), subsets=subsets, size=size):
        return _mmd2_subsets(x, y, [d[0] for d in draws], [d[1] for d in draws], **kernel)
    return float(np.mean([_mmd2_unbiased(x[dx], y[dy], **kernel) for dx, dy in draws]))
