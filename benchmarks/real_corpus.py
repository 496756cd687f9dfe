"""Real music for quality benchmarks: recordings of three kinds of music, from Debian.

Three corpora (``--corpus``), so that a setting tuned on one kind of music is checked on others:

- ``wesnoth`` (default): the Battle for Wesnoth orchestral soundtrack (below);
- ``nexuiz``: the Nexuiz soundtrack, electronic music (techno, industrial, drum-driven, synth
  pads; Debian ``nexuiz-music``, GPL-2+, one ``.deb`` of 84 MB holding a ``music.pk3`` zip of
  18 Ogg Vorbis tracks at 44.1 kHz stereo, 48 s to 9.5 min, 80 minutes in all; a second mix of
  ``sixtyfour_`` is left out, as Wesnoth's older arrangement is, so it cannot leak between
  training and held-out tracks);
- ``metal``: heavy metal played by two bands, drums, bass, distorted rhythm and lead guitars, a
  few songs with vocals: the Frets on Fire song packs ``fretsonfire-songs-sectoid`` (Carlos Viola
  Iborra) and ``fretsonfire-songs-muldjord`` (El Senator), MIT-style licences, two ``.deb`` of
  29 MB each, 8 songs of 2.4 to 4.8 min, 27 minutes in all. The game plays each song as two
  stems, the band (``song.ogg``) and the lead guitar (``guitar.ogg``), so each song is mixed
  down once into one FLAC file (ffmpeg's ``amix``, each stem at half gain so the sum cannot clip).

The rest of this page describes the first; the others are fetched the same way.

Why: the workflow's tests and benchmarks use synthetic audio, which says nothing about how well
the model learns real music. This machine (and CI) reach no web site, only package registries,
so the corpus must come from a package. Debian's ``wesnoth-1.16-music`` is the best fit found:

- orchestral fantasy soundtrack (strings, brass, woodwinds, percussion, choir), composed and
  produced for the game by its music team; not synthetic test tones nor chiptune/tracker music;
- licence GPL-2+ (like all of Wesnoth's data), free to use and redistribute;
- one ``.deb`` of about 153 MB (Debian 12 version 1:1.16.9-1), 41 Ogg Vorbis files at
  44.1 kHz stereo, 128 minutes in all; after dropping the jingles and one older arrangement
  (see ``EXCLUDE``) 34 distinct pieces (44 s to 9 min, most 3 to 6 min) and 125 minutes remain,
  so whole tracks can be held out for evaluation. ``max_minutes`` picks a stable smaller set.

How: ``apt-get download`` (fetches the ``.deb`` without installing anything; needs the package
lists, so ``apt-get update`` is run once, as root, if the first try fails: lists missing or stale), then
``dpkg-deb -x`` into a cache folder. A second call reuses the extracted files and touches no
network. The cache folder is, in order: the ``cache_dir`` argument / ``--cache``, the
``AUDIOWGAN_CORPUS_CACHE`` environment variable, ``benchmarks/.cache/``. It holds a
``.gitignore`` of ``*`` so nothing in it is ever committed.

Use::

    python benchmarks/real_corpus.py                       # print the audio paths, one a line
    python benchmarks/real_corpus.py --out DIR             # also write DIR/sources.tsv
    python benchmarks/real_corpus.py --max-minutes 30 --probe   # a 30-minute subset, with durations

    from real_corpus import audio_files, write_sources
    paths = audio_files(max_minutes=30)

``sources.tsv`` has the workflow's format (header ``name<TAB>url``), one row per file, the url
being the file's absolute local path.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

AUDIO_SUFFIXES = (".ogg", ".opus", ".flac", ".mp3", ".wav")


@dataclass(frozen=True)
class Corpus:
    """A Debian package of music: where its audio sits (inside ``archive``, a zip in the package, if set)."""

    packages: tuple[str, ...]
    audio_dir: str  # in every package
    exclude: frozenset[str]  # file stems left out: jingles, silence, near-duplicate mixes
    prefix: str  # of the track names in sources.tsv
    archive: str | None = None
    # When set, a track is a folder under audio_dir holding all of these parts, mixed into one file
    stems: tuple[str, ...] = ()


CORPORA = {
    # Victory/defeat jingles (5 to 27 s), a file of pure silence, and an older arrangement of
    # frantic.ogg (a near-duplicate that would leak between training and held-out tracks).
    "wesnoth": Corpus(
        ("wesnoth-1.16-music",),
        "usr/share/games/wesnoth/1.16/data/core/music",
        frozenset({"defeat", "defeat2", "victory", "victory2", "silence", "elf-land", "frantic-old"}),
        "wesnoth",
    ),  # fmt: skip
    # sixtyfour_revisited is a second mix of sixtyfour_.
    "nexuiz": Corpus(
        ("nexuiz-music",),
        "sound/cdtracks",
        frozenset({"sixtyfour_revisited"}),
        "nexuiz",
        archive="usr/share/games/nexuiz/data/music.pk3",
    ),  # fmt: skip
    "metal": Corpus(
        ("fretsonfire-songs-sectoid", "fretsonfire-songs-muldjord"),
        "usr/share/games/fretsonfire/data/songs",
        frozenset(),
        "metal",
        stems=("song.ogg", "guitar.ogg"),
    ),  # fmt: skip
}
DEFAULT_CORPUS = "wesnoth"
PACKAGE = CORPORA[DEFAULT_CORPUS].packages[0]
ENV_CACHE = "AUDIOWGAN_CORPUS_CACHE"
DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"
MARKER = ".extracted.json"


class CorpusError(RuntimeError):
    """The corpus could not be fetched, extracted or read."""


@dataclass(frozen=True)
class AudioInfo:
    path: Path
    duration: float
    sample_rate: int
    channels: int
    codec: str


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: the argument, else $AUDIOWGAN_CORPUS_CACHE, else benchmarks/.cache."""
    chosen = cache_dir or os.environ.get(ENV_CACHE) or DEFAULT_CACHE
    return Path(chosen).expanduser().resolve()


def _need(
    tool: str, hint: str = "fetching the real-music corpus needs a Debian-based machine (apt-get, dpkg-deb)"
) -> str:
    """The path of ``tool``, or a CorpusError naming it and ``hint`` (why it is needed, how to get it)."""
    found = shutil.which(tool)
    if not found:
        raise CorpusError(f"{tool} not found: {hint}")
    return found


def _run(cmd: list[str], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One fetch at a time per cache folder (parallel jobs would otherwise race on the .deb)."""
    with open(root / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _download(package: str, dest: Path) -> Path:
    """``apt-get download`` the package's .deb into ``dest``; run ``apt-get update`` once if needed."""
    apt = _need("apt-get")
    # As root, apt drops to the _apt user, which may not be able to write into dest: the download
    # still works but warns. Running it as root silences that without changing what is fetched.
    sandbox = ["-o", "APT::Sandbox::User=root"] if os.geteuid() == 0 else []
    cmd = [apt, *sandbox, "download", package]
    proc = _run(cmd, cwd=dest)
    if proc.returncode != 0 and os.geteuid() == 0:  # no package lists yet, or stale ones (404)
        print(f"apt-get download {package} failed; running apt-get update and retrying", file=sys.stderr)
        update = _run([apt, "update"])
        if update.returncode != 0:
            raise CorpusError(f"apt-get update failed:\n{update.stderr.strip()[-2000:]}")
        proc = _run(cmd, cwd=dest)
    if proc.returncode != 0:
        hint = "" if os.geteuid() == 0 else " (run `apt-get update` as root first)"
        raise CorpusError(f"apt-get download {package} failed{hint}:\n{proc.stderr.strip()[-2000:]}")
    debs = sorted(dest.glob(f"{package}_*.deb"), key=lambda p: p.stat().st_mtime)
    if not debs:
        raise CorpusError(f"apt-get download {package} reported success but left no .deb in {dest}")
    return debs[-1]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(
    cache_dir: str | os.PathLike[str] | None = None, *, package: str = PACKAGE, archive: str | None = None
) -> Path:
    """Download and extract ``package`` once (and the zip ``archive`` inside it, if given); return the folder
    the .deb was extracted to."""
    root = cache_root(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    (root / ".gitignore").write_text("*\n")
    target = root / package
    if (target / MARKER).is_file():
        return target
    with _locked(root):
        if (target / MARKER).is_file():  # another process finished while we waited
            return target
        _need("apt-get")
        dpkg_deb = _need("dpkg-deb")
        with tempfile.TemporaryDirectory(prefix=".download-", dir=root) as tmp:
            deb = _download(package, Path(tmp))
            print(f"downloaded {deb.name} ({deb.stat().st_size / 1e6:.0f} MB); extracting", file=sys.stderr)
            staging = Path(tmp) / "root"
            proc = _run([dpkg_deb, "-x", str(deb), str(staging)])
            if proc.returncode != 0:
                raise CorpusError(f"dpkg-deb -x {deb.name} failed:\n{proc.stderr.strip()[-2000:]}")
            if archive is not None:  # a game's data zip (.pk3): its members land beside it
                with zipfile.ZipFile(staging / archive) as z:
                    z.extractall(staging)
            manifest = {"package": package, "deb": deb.name, "sha256": _sha256(deb), "bytes": deb.stat().st_size}
            (staging / MARKER).write_text(json.dumps(manifest, indent=2) + "\n")
            if target.exists():  # a half-finished earlier attempt
                shutil.rmtree(target)
            staging.rename(target)
    return target


def probe(path: str | os.PathLike[str]) -> AudioInfo:
    """Duration, sample rate, channels and codec of one file, by decoding its headers with ffprobe."""
    ffprobe = _need("ffprobe", "install ffmpeg (apt-get install ffmpeg)")
    cmd = [ffprobe, "-v", "error", "-select_streams", "a:0", "-show_entries",
           "format=duration:stream=codec_name,sample_rate,channels", "-of", "json", str(path)]  # fmt: skip
    proc = _run(cmd)
    try:
        data = json.loads(proc.stdout)
        stream = data["streams"][0]
        return AudioInfo(Path(path), float(data["format"]["duration"]), int(stream["sample_rate"]),
                         int(stream["channels"]), str(stream["codec_name"]))  # fmt: skip
    except (ValueError, KeyError, IndexError) as exc:
        raise CorpusError(f"ffprobe cannot read {path}: {proc.stderr.strip() or exc}") from exc


def _subset(paths: list[Path], max_tracks: int | None, max_minutes: float | None) -> list[Path]:
    """A stable subset: tracks in an order fixed by a hash of their names (not alphabetical, so
    not all from one end of the list), kept while they fit the track and minute budgets."""
    if max_tracks is None and max_minutes is None:
        return paths
    order = sorted(paths, key=lambda p: hashlib.sha1(p.name.encode()).hexdigest())
    chosen: list[Path] = []
    seconds = 0.0
    for path in order:
        if max_tracks is not None and len(chosen) >= max_tracks:
            break
        if max_minutes is not None:
            duration = probe(path).duration
            if seconds + duration > max_minutes * 60:
                continue
            seconds += duration
        chosen.append(path)
    return sorted(chosen)


def audio_files(
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    max_tracks: int | None = None,
    max_minutes: float | None = None,
    include_jingles: bool = False,
    corpus: str = DEFAULT_CORPUS,
) -> list[Path]:
    """Absolute paths of the corpus's audio files, sorted by name (fetched, and mixed down, on first use).

    ``max_tracks`` / ``max_minutes`` (the latter needs ffprobe) pick the same subset every time.
    """
    c = CORPORA[corpus]
    paths = sorted(
        p
        for package in c.packages
        for p in _package_audio(c, package, cache_dir)
        if include_jingles or p.stem not in c.exclude
    )
    if not paths:
        raise CorpusError(f"no audio files in {', '.join(c.packages)} under {c.audio_dir}")
    return _subset(paths, max_tracks, max_minutes)


def _package_audio(c: Corpus, package: str, cache_dir: str | os.PathLike[str] | None) -> list[Path]:
    """One package's tracks: its audio files, or its songs' stems mixed down (``Corpus.stems``)."""
    folder = fetch(cache_dir, package=package, archive=c.archive) / c.audio_dir
    if not folder.is_dir():
        raise CorpusError(f"{package} has no {c.audio_dir}: has the package's layout changed?")
    if not c.stems:
        return [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES]
    songs = sorted({p.parent for p in folder.rglob(c.stems[0]) if all((p.parent / s).is_file() for s in c.stems)})
    return [mixdown(song, c.stems, cache_root(cache_dir) / f"{c.prefix}-mixed") for song in songs]


def mixdown(song: Path, stems: tuple[str, ...], dest: Path) -> Path:
    """``song``'s stems played together, as ``dest/<band>-<song>.flac`` (made once).

    ffmpeg's ``amix`` scales each of the n inputs by 1/n, so the sum cannot clip the 16-bit FLAC; every mel the
    model sees is scaled to its own peak, so the lower level changes nothing but a bit of precision.
    """
    target = dest / (_slug(f"{song.parent.name}-{song.name}") + ".flac")
    if target.is_file():
        return target
    ffmpeg = _need("ffmpeg", "mixing the songs' stems needs it (apt-get install ffmpeg)")
    dest.mkdir(parents=True, exist_ok=True)
    with _locked(dest), tempfile.TemporaryDirectory(prefix=".mix-", dir=dest) as tmp:
        if target.is_file():  # another process mixed it while we waited
            return target
        partial = Path(tmp) / target.name
        inputs = [arg for stem in stems for arg in ("-i", str(song / stem))]
        cmd = [ffmpeg, "-v", "error", *inputs, "-filter_complex", f"amix=inputs={len(stems)}", str(partial)]
        proc = _run(cmd)
        if proc.returncode != 0:
            raise CorpusError(f"ffmpeg could not mix {song}:\n{proc.stderr.strip()[-2000:]}")
        partial.rename(target)
    return target


def _slug(name: str) -> str:
    """A file name without spaces or capitals: 'sectoid-Metal madness' -> 'sectoid-metal_madness'."""
    return "".join(ch if ch.isalnum() or ch == "-" else "_" for ch in name.lower())


def write_sources(paths: list[Path], out: str | os.PathLike[str], *, corpus: str = DEFAULT_CORPUS) -> Path:
    """Write ``sources.tsv`` (``name<TAB>url``, url = absolute path) for the workflow.

    ``out`` is a folder (the file is ``out/sources.tsv``) or a path ending in ``.tsv``.
    """
    target = Path(out)
    if target.suffix != ".tsv":
        target = target / "sources.tsv"
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"{CORPORA[corpus].prefix}-{p.stem}\t{Path(p).resolve()}" for p in paths]
    target.write_text("name\turl\n" + "".join(row + "\n" for row in rows))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=sorted(CORPORA), default=DEFAULT_CORPUS, help="which music")
    parser.add_argument("--out", type=Path, help="write sources.tsv here (a folder, or a path ending in .tsv)")
    parser.add_argument("--cache", type=Path, help=f"cache folder (default: ${ENV_CACHE} or {DEFAULT_CACHE})")
    parser.add_argument("--max-tracks", type=int, help="keep at most this many tracks (a stable choice)")
    parser.add_argument("--max-minutes", type=float, help="keep tracks up to this many minutes in all (ffprobe)")
    parser.add_argument("--include-jingles", action="store_true", help="keep the short jingles and duplicates too")
    parser.add_argument("--probe", action="store_true", help="print duration, sample rate, channels, codec per file")
    args = parser.parse_args(argv)
    try:
        paths = audio_files(args.cache, max_tracks=args.max_tracks, max_minutes=args.max_minutes,
                            include_jingles=args.include_jingles, corpus=args.corpus)  # fmt: skip
        if args.probe:
            infos = [probe(p) for p in paths]
            for info in infos:
                print(f"{info.path}\t{info.duration:.1f}\t{info.sample_rate}\t{info.channels}\t{info.codec}")
            total = sum(i.duration for i in infos)
            print(f"{len(infos)} files, {total / 60:.1f} minutes", file=sys.stderr)
        else:
            print("\n".join(str(p) for p in paths))
        if args.out:
            print(f"wrote {write_sources(paths, args.out, corpus=args.corpus)}", file=sys.stderr)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
