"""benchmarks/real_corpus.py: a corpus whose songs come as stems (the metal corpus) is mixed down once, one file
per song, from every package of the corpus, without touching the network when the packages are in the cache."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import real_corpus  # noqa: E402  (the benchmarks are scripts, not a package)

RATE = 16000
METAL = real_corpus.CORPORA["metal"]


def tone(path: Path, hz: float, seconds: float = 1.0) -> None:
    t = np.arange(int(RATE * seconds)) / RATE
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.9 * np.sin(2 * np.pi * hz * t), RATE, format="OGG", subtype="VORBIS")


def song(cache: Path, package: str, band: str, name: str, stems=METAL.stems) -> Path:
    """A song folder of ``package`` as Debian ships it, each stem a tone of its own pitch."""
    folder = cache / package / METAL.audio_dir / band / name
    for k, stem in enumerate(stems):
        tone(folder / stem, 440.0 * (k + 2) / 2)
    (cache / package / real_corpus.MARKER).write_text(json.dumps({"package": package}))  # extracted: no download
    return folder


def levels(path: Path, *hz: float) -> list[float]:
    """The magnitude spectrum's peak within 5 Hz of each frequency, over its peak anywhere."""
    wave, rate = sf.read(path)
    wave = wave.mean(axis=1) if wave.ndim > 1 else wave
    spectrum = np.abs(np.fft.rfft(wave))
    freqs = np.fft.rfftfreq(len(wave), 1 / rate)
    return [float(spectrum[np.abs(freqs - f) <= 5].max() / spectrum.max()) for f in hz]


def test_a_song_is_its_stems_played_together_at_a_gain_that_cannot_clip(tmp_path):
    folder = song(tmp_path, METAL.packages[0], "sectoid", "Metal madness")
    mixed = real_corpus.mixdown(folder, METAL.stems, tmp_path / "mixed")
    assert mixed.name == "sectoid-metal_madness.flac"
    assert min(levels(mixed, 440, 660)) > 0.5 and max(levels(mixed, 330, 550)) < 0.05  # both stems, nothing else
    wave, rate = sf.read(mixed)
    assert rate == RATE and abs(len(wave) - RATE) < RATE // 100
    assert 0.5 < np.abs(wave).max() < 1.0  # two stems at 0.9 each, each at half gain


def test_a_mixed_song_is_made_once(tmp_path):
    folder = song(tmp_path, METAL.packages[0], "sectoid", "Feelings")
    first = real_corpus.mixdown(folder, METAL.stems, tmp_path / "mixed")
    made = first.stat().st_mtime_ns
    (folder / METAL.stems[1]).unlink()  # a second call must not need the stems again
    assert real_corpus.mixdown(folder, METAL.stems, tmp_path / "mixed").stat().st_mtime_ns == made


def test_the_corpus_takes_every_complete_song_of_every_package(tmp_path):
    song(tmp_path, METAL.packages[0], "sectoid", "War of freedom")
    song(tmp_path, METAL.packages[1], "muldjord", "chaos_god")
    song(tmp_path, METAL.packages[1], "muldjord", "no_guitar", stems=METAL.stems[:1])  # a stem missing: not a song
    paths = real_corpus.audio_files(tmp_path, corpus="metal")
    assert [p.name for p in paths] == ["muldjord-chaos_god.flac", "sectoid-war_of_freedom.flac"]
    assert all(p.parent == tmp_path / "metal-mixed" for p in paths)


def test_a_failed_mix_says_which_song_and_leaves_no_file(tmp_path):
    folder = song(tmp_path, METAL.packages[0], "sectoid", "Escape")
    (folder / METAL.stems[1]).write_bytes(b"not audio")
    with pytest.raises(real_corpus.CorpusError, match="could not mix .*Escape"):
        real_corpus.mixdown(folder, METAL.stems, tmp_path / "mixed")
    assert not list((tmp_path / "mixed").glob("*.flac"))
