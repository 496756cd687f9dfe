"""Unit tests of audiowgan.dsp.audio and audiowgan.dsp.mel."""

from __future__ import annotations

import json

import librosa
import numpy as np
import pytest
import soundfile as sf

from audiowgan.core import check
from audiowgan.core.settings import MelSpec
from audiowgan.dsp import audio
from audiowgan.dsp import mel as features
from audiowgan.ingest import demo

SR = 16000


@pytest.fixture(scope="module")
def piece():
    return demo.piece(seed=0, seconds=5.3, sample_rate=SR)


def test_segment_file_streams_fixed_length_mono_segments(tmp_path, piece):
    stereo = np.stack([piece, piece * 0.5], axis=1)
    src = tmp_path / "in.wav"
    sf.write(src, stereo, SR)
    silent_gap = np.concatenate([piece[: 2 * SR], np.zeros(SR, np.float32), piece[:SR]])
    sf.write(tmp_path / "gap.wav", silent_gap, SR)
    summary = audio.segment_file(src, tmp_path / "seg", sample_rate=8000, segment_seconds=1.0, silence_threshold_db=-60)
    assert (summary.kept, summary.silent) == (5, 0)
    assert summary.remainder_seconds == pytest.approx(0.3, abs=1e-3)
    for wav in sorted((tmp_path / "seg").glob("*.wav")):
        info = sf.info(wav)
        assert (info.samplerate, info.channels, info.frames) == (8000, 1, 8000)
    summary = audio.segment_file(tmp_path / "gap.wav", tmp_path / "gap", sample_rate=SR, segment_seconds=1.0,
                                 silence_threshold_db=-60)  # fmt: skip
    assert (summary.kept, summary.silent) == (3, 1)
    assert sorted(p.stem for p in (tmp_path / "gap").glob("*.wav")) == ["00000", "00001", "00003"]


def test_undecodable_file_raises_audio_error(tmp_path):
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"not audio at all" * 100)
    with pytest.raises(audio.AudioError, match="ffmpeg could not decode"):
        audio.segment_file(bad, tmp_path / "out", sample_rate=SR, segment_seconds=1.0, silence_threshold_db=-60)


def _decoded(path, sample_rate):
    """The whole track as ffmpeg decodes it for segmenting."""
    return np.concatenate(list(audio.stream_blocks(path, sample_rate=sample_rate, block_samples=SR)))


def test_overlapping_segments_start_every_hop(tmp_path, piece):
    src = _wav(tmp_path, piece)
    summary = audio.segment_file(src, tmp_path / "seg", sample_rate=SR, segment_seconds=1.0, segment_overlap=0.75,
                                 silence_threshold_db=-60)  # fmt: skip
    wavs = sorted((tmp_path / "seg").glob("*.wav"))
    assert summary.kept == len(wavs) == 1 + int((5.3 - 1.0) / 0.25) == 18  # 17 hops fit after the first segment
    assert summary.remainder_seconds == pytest.approx(5.3 - (17 * 0.25 + 1.0), abs=1e-4)
    assert summary.total_seconds == pytest.approx(5.3, abs=1e-4)
    decoded = _decoded(src, SR)
    for k, wav in enumerate(wavs):  # NNNNN is the number of the start hop: segment k starts at k * hop
        samples, _ = audio.read_wav(wav)
        assert wav.stem == f"{k:05d}" and np.array_equal(samples, decoded[k * 4000 : k * 4000 + SR])


def test_overlapping_segments_number_silent_ones_by_their_start_hop(tmp_path, piece):
    gap = np.concatenate([piece[: 2 * SR], np.zeros(2 * SR, np.float32), piece[:SR]])
    summary = audio.segment_file(_wav(tmp_path, gap), tmp_path / "seg", sample_rate=SR, segment_seconds=1.0,
                                 segment_overlap=0.5, silence_threshold_db=-60)  # fmt: skip
    assert summary.silent_segments == [4, 5, 6] and summary.kept == 6  # the ones starting at 2.0, 2.5 and 3.0 s
    assert sorted(p.stem for p in (tmp_path / "seg").glob("*.wav")) == [f"{k:05d}" for k in (0, 1, 2, 3, 7, 8)]


def test_no_overlap_cuts_exactly_the_old_back_to_back_segments(tmp_path, piece):
    src = _wav(tmp_path, piece)
    kw = dict(sample_rate=SR, segment_seconds=1.0, silence_threshold_db=-60)
    default = audio.segment_file(src, tmp_path / "default", **kw)
    same = audio.segment_file(src, tmp_path / "same", segment_overlap=0.0, **kw)
    assert default == same and (default.kept, default.remainder_seconds) == (5, pytest.approx(0.3, abs=1e-4))
    decoded = _decoded(src, SR)
    for k in range(5):  # byte for byte what the back-to-back cutting wrote
        audio.write_wav(tmp_path / "ref.wav", decoded[k * SR : (k + 1) * SR], SR)
        ref, name = (tmp_path / "ref.wav").read_bytes(), f"{k:05d}.wav"
        assert (tmp_path / "default" / name).read_bytes() == ref == (tmp_path / "same" / name).read_bytes()


@pytest.mark.parametrize("overlap, message", [(1.0, "1.0: must be < 1"), (-0.5, "-0.5: must be >= 0"),
                                              (0.99999, "0.99999: leaves less than one sample")])  # fmt: skip
def test_bad_segment_overlaps_are_refused(tmp_path, piece, overlap, message):
    with pytest.raises(ValueError, match=f"'audio.segment_overlap' = {message}"):
        audio.segment_file(_wav(tmp_path, piece), tmp_path / "seg", sample_rate=SR, segment_seconds=1.0,
                           segment_overlap=overlap, silence_threshold_db=-60)  # fmt: skip


def test_segment_track_records_the_hop_it_cut_with(tmp_path, piece):
    meta = audio.segment_track(_wav(tmp_path, piece), {"status": "ok"}, tmp_path / "seg", sample_rate=SR,
                               segment_seconds=1.0, segment_overlap=0.25, silence_threshold_db=-60)  # fmt: skip
    assert (meta["segment_overlap"], meta["segment_hop_seconds"]) == (0.25, 0.75)  # the hop: where segment k starts
    written = json.loads((tmp_path / "seg" / "segments.json").read_text())
    assert (written["segment_overlap"], written["segment_hop_seconds"]) == (0.25, 0.75)


@pytest.mark.parametrize(
    "signal, target, binds",
    [("sine", -20.0, False), ("sine", -2.0, True), ("piece", -30.0, False), ("piece", -20.0, False),
     ("piece", -12.0, True)],
)  # fmt: skip
def test_normalise_loudness_hits_target_unless_the_peak_limit_binds(piece, signal, target, binds):
    quiet = 0.01 * (np.sin(2 * np.pi * 440 * np.arange(SR) / SR) if signal == "sine" else piece)
    crest_db = audio.peak_dbfs(quiet) - audio.rms_dbfs(quiet)  # peak over RMS: no gain changes it
    assert (target + crest_db > -1.0) == binds  # the case is the one it claims to be
    out = audio.normalise_loudness(quiet, target_dbfs=target)
    gain = out[np.argmax(np.abs(quiet))] / quiet[np.argmax(np.abs(quiet))]
    np.testing.assert_allclose(out, gain * quiet, rtol=1e-5, atol=1e-9)  # one linear gain: nothing clipped
    assert audio.peak_dbfs(out) <= -1.0 + 1e-5
    # At the target unless that would put the peak above -1 dBFS; then exactly at the ceiling, no lower.
    assert audio.rms_dbfs(out) == pytest.approx(-1.0 - crest_db if binds else target, abs=0.01)
    assert audio.peak_dbfs(out) == pytest.approx(-1.0 if binds else target + crest_db, abs=0.01)


def test_normalise_loudness_leaves_silence_silent():
    assert not np.any(audio.normalise_loudness(np.zeros(100), target_dbfs=-20))


@pytest.mark.parametrize("hop", [128, 256, 300, 512])
def test_mel_shape_follows_hop_length(piece, hop):
    m = features.mel(piece[: 2 * SR], sample_rate=SR, n_fft=1024, hop_length=hop, n_mels=48, top_db=80)
    assert m.shape == (48, 1 + 2 * SR // hop) == (48, features.n_frames(2 * SR, hop))
    assert m.dtype == np.float32 and m.min() >= -1 and m.max() == pytest.approx(1.0)


def test_default_settings_give_216_frames_for_five_seconds():
    assert features.n_frames(5 * 22050, 512) == 216


def test_scale_round_trips_within_top_db():
    power = np.array([[1.0, 0.1, 1e-3, 1e-12]])
    back = features.unscale(features.scale(power, top_db=80), top_db=80)
    assert np.allclose(back[0, :3], power[0, :3], rtol=1e-5)
    assert back[0, 3] == pytest.approx(1e-8)  # clipped at 80 dB below the peak


def test_audio_mel_audio_round_trip_is_close_in_mel_distance(piece):
    y = piece[: 2 * SR]
    kw = dict(sample_rate=SR, n_fft=1024, hop_length=256, n_mels=64)
    m = features.mel(y, top_db=80, **kw)
    power = features.unscale(m, top_db=80)
    y_hat = librosa.feature.inverse.mel_to_audio(power, sr=SR, n_fft=1024, hop_length=256, n_iter=32, length=len(y))
    m_hat = features.mel(y_hat, top_db=80, **kw)
    other = features.mel(demo.piece(seed=1, seconds=2, sample_rate=SR), top_db=80, **kw)
    error = np.mean(np.abs(m - m_hat))  # in the [-1, 1] scale: 0.1 is 4 dB of the 80 dB range
    # Griffin-Lim's phase guesses leave the quietest bins noisy; the loud structure comes back.
    assert error < 0.1
    assert error < 0.4 * np.mean(np.abs(m - other))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hop_length": 0}, "hop_length=0 must be a positive integer"),
        ({"n_fft": -2}, "n_fft=-2 must be a positive integer"),
        ({"hop_length": 4096}, "hop_length=4096 must not exceed n_fft=2048"),
        ({"n_mels": 1000}, "n_mels=1000 exceeds what n_fft=2048 supports"),
        ({"top_db": 0}, "top_db=0 must be positive"),
        ({"fmax": 30000}, "fmax=30000"),
    ],
)
def test_bad_mel_parameters_name_the_parameter(kwargs, message):
    params = dict(sample_rate=22050, n_fft=2048, hop_length=512, n_mels=256, top_db=80) | kwargs
    with pytest.raises(ValueError, match=message):
        check.check_mel_params(**params)


def test_defaults_are_valid():
    check.check_mel_params(sample_rate=22050, n_fft=2048, hop_length=512, n_mels=256, top_db=80)


def test_mel_directory_writes_one_npy_per_segment(tmp_path, piece):
    seg = tmp_path / "seg"
    summary = audio.segment_file(
        _wav(tmp_path, piece), seg, sample_rate=SR, segment_seconds=1.0, silence_threshold_db=-60
    )
    (seg / "segments.json").write_text(
        json.dumps({"sample_rate": SR, "segment_seconds": 1.0, "segment_overlap": 0.0, "segment_hop_seconds": 1.0,
                    "silence_threshold_db": -60})
    )  # fmt: skip
    spec = MelSpec(n_fft=512, hop_length=128, n_mels=32, top_db=80.0, fmin=0.0, fmax=None)
    meta = features.mel_directory(seg, tmp_path / "mel", spec=spec, threads=2)
    npys = sorted((tmp_path / "mel").glob("*.npy"))
    assert len(npys) == summary.kept == meta["n_segments"] == 5
    assert meta["frames"] == 1 + SR // 128 and meta["sample_rate"] == SR and meta["hop_length"] == 128
    assert (meta["segment_overlap"], meta["segment_hop_seconds"]) == (0.0, 1.0)  # pack keeps held-out rows apart


def _wav(tmp_path, samples):
    path = tmp_path / "src.wav"
    sf.write(path, samples, SR)
    return path


@pytest.mark.parametrize("sr, n_fft, fmax", [(22050, 2048, None), (16000, 512, None), (8000, 256, 3000.0)])
def test_max_n_mels_agrees_with_librosa_filters(sr, n_fft, fmax):
    limit = check.max_n_mels(sample_rate=sr, n_fft=n_fft, fmax=fmax)
    for n_mels in (limit, limit + 1):
        fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmax=fmax)
        assert bool(np.all(fb.max(axis=1) > 0)) == (n_mels == limit)


@pytest.mark.parametrize(
    "n, fmin, fmax", [(258, 0.0, 11025.0), (34, 0, 8000), (130, 40.0, 3000.0), (5, 1200.0, 4000.0)]
)
def test_the_config_check_uses_librosas_mel_grid_without_librosa(n, fmin, fmax):
    ours = check._slaney_mel_points(n, fmin=fmin, fmax=fmax)
    assert np.array_equal(ours, librosa.mel_frequencies(n, fmin=fmin, fmax=fmax))


@pytest.mark.parametrize("n_fft, hop, n_samples", [(512, 128, 16000), (1024, 300, 12345), (2048, 512, 22050 * 5)])
def test_mel_power_equals_librosa_melspectrogram(piece, n_fft, hop, n_samples):
    y = np.resize(piece, n_samples)
    ours = features.mel_power(y, sample_rate=SR, n_fft=n_fft, hop_length=hop, n_mels=40)
    ref = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=n_fft, hop_length=hop, n_mels=40, power=2.0)
    assert ours.shape == ref.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-6 * ref.max())


def test_hann_is_scipys_periodic_hann():
    import scipy.signal

    for n in (16, 511, 2048):
        np.testing.assert_allclose(features.hann(n), scipy.signal.get_window("hann", n, fftbins=True), atol=1e-7)
