"""Shared fixtures: synthetic music served over loopback HTTP, tiny workflow workdirs, Snakemake runner."""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

import audiowgan.nn  # noqa: F401 - first, so TensorFlow starts with the package's oneDNN switch (nn/__init__.py)
from audiowgan.dsp import audio
from audiowgan.ingest import demo

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

# A tiny configuration: 1-second segments, 32 mel bands, a network of a few
# thousand parameters, so the whole workflow runs in a minute or two on CPU.
TINY_CONFIG = {
    "sources": "config/sources.tsv",
    "audio": {"sample_rate": 16000, "segment_seconds": 1.0, "segment_overlap": 0.0},  # side by side: half the steps
    "mel": {"n_fft": 512, "hop_length": 256, "n_mels": 32},
    "model": {
        "noise_dim": 16,
        "generator_channels": [32, 16, 8],
        "critic_channels": [8, 16],
        "generator_kernel_size": 3,
        "critic_kernel_size": 3,
    },
    "train": {"epochs": 2, "batch_size": 4, "d_steps": 2, "checkpoint_every": 4},
    "generate": {
        "n_clips": 3,
        "griffin_lim_iters": 8,
        "longform": {"n": 1, "seconds": 4.5, "overlap_seconds": 0.25, "anchor_seconds": 2.0},
    },  # fmt: skip
    # No CREPE and musicnn embeddings (two network loads in evaluate and nearest, a third of a tiny
    # run): the session's finished run (finished_workdir) turns them on, and its tests check them.
    "evaluate": {"perceptual": False},
}
# Tests run the workflow with the cores the README's command gives, on machines with two: a tiny
# run's jobs are mostly the start-up of Python and TensorFlow, which overlaps well (a third faster).
CORES = "8"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - keep test output clean
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # yt-dlp may hang up mid-file: not an error here
        pass


@dataclass
class MusicServer:
    """Synthetic music files served from a loopback HTTP server."""

    root: Path
    base_url: str
    files: dict[str, float] = field(default_factory=dict)  # name -> seconds

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def add_piece(self, name: str, *, seconds: float, seed: int, sample_rate: int = 22050) -> Path:
        path = self.root / name
        audio.write_wav(path, demo.piece(seed=seed, seconds=seconds, sample_rate=sample_rate), sample_rate)
        self.files[name] = seconds
        return path

    def add_feed(self, name: str, items: list[str]) -> str:
        entries = "".join(
            f"<item><title>Episode {i + 1}: {item}</title><guid>{self.url(item)}</guid>"
            f'<enclosure url="{self.url(item)}" type="audio/wav" length="{(self.root / item).stat().st_size}"/></item>'
            for i, item in enumerate(items)
        )
        (self.root / name).write_text(
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Test feed</title>'
            f"<link>{self.base_url}</link><description>synthetic</description>{entries}</channel></rss>"
        )
        return self.url(name)


@pytest.fixture(scope="session")
def music_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ms = MusicServer(root, f"http://127.0.0.1:{server.server_address[1]}")
    ms.add_piece("direct.wav", seconds=6.0, seed=1)
    ms.add_piece("episode-1.wav", seconds=4.0, seed=2)
    ms.add_piece("episode-2.wav", seconds=4.0, seed=3)
    ms.add_piece("extra.wav", seconds=3.0, seed=5)
    ms.add_piece("mine.wav", seconds=6.0, seed=4)
    ms.add_feed("feed.xml", ["episode-1.wav", "episode-2.wav"])
    yield ms
    server.shutdown()
    server.server_close()


@dataclass
class Run:
    """One finished Snakemake invocation and the jobs it executed."""

    returncode: int
    output: str

    @property
    def jobs(self) -> list[tuple[str, dict[str, str]]]:
        """(rule, wildcards) of every job the run started, in order."""
        found = []
        for block in re.split(r"\n(?=\[[A-Z][a-z]{2} [A-Z][a-z]{2} )", self.output):
            # A group job (on a cluster) prints several indented rule blocks under one timestamp.
            parts = re.split(r"^[ \t]*(?:local)?(?:rule|checkpoint) (\w+):", block, flags=re.M)
            for rule, body in zip(parts[1::2], parts[2::2]):
                wc = re.search(r"^\s+wildcards: (.*)$", body, re.M)
                wildcards = dict(kv.split("=", 1) for kv in wc.group(1).split(", ")) if wc else {}
                found.append((rule, wildcards))
        return found

    @property
    def rules(self) -> list[str]:
        return [rule for rule, _ in self.jobs]


def snakemake(workdir: Path, *args: str, check: bool = True, env: dict | None = None,
              snakefile: Path = REPO / "Snakefile") -> Run:  # fmt: skip
    """Run the repo's Snakefile (or ``snakefile``) in ``workdir``; return its combined output."""
    cmd = [*SNAKEMAKE, "-s", str(snakefile), "-d", str(workdir), "--cores", CORES, *args]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env={**os.environ, **(env or {})})
    run = Run(proc.returncode, proc.stdout + proc.stderr)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{run.output[-6000:]}")
    return run


def dry_run_counts(workdir: Path, *args: str, snakefile: Path = REPO / "Snakefile") -> dict[str, int]:
    """Jobs per rule that a dry run would execute (from `--quiet rules`)."""
    run = snakemake(workdir, "-n", "--quiet", "rules", *args, snakefile=snakefile)
    counts = {}
    for line in run.output.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if m and m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
    return counts


def make_workdir(path: Path, server: MusicServer, *, overrides: dict | None = None) -> Path:
    """A workdir with the repo's default config, the tiny overrides and three kinds of source."""
    (path / "config").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config" / "config.yaml", path / "config" / "config.yaml")
    local = path / "local" / "my song.wav"
    local.parent.mkdir(exist_ok=True)
    shutil.copy(server.root / "mine.wav", local)  # a file on disk, not served: read through file://
    cfg = _merge(TINY_CONFIG, overrides or {})
    (path / "config" / "test.yaml").write_text(yaml.safe_dump(cfg))
    (path / "config" / "sources.tsv").write_text(
        f"name\turl\ndirect\t{server.url('direct.wav')}\nfeed\t{server.url('feed.xml')}\nlocal\tlocal/my song.wav\n"
    )
    return path


def _merge(base: dict, extra: dict) -> dict:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for k, v in extra.items():
        out[k] = _merge(out.get(k, {}), v) if isinstance(v, dict) else v
    return out


PERCEPTUAL = {"evaluate": {"perceptual": True}}


@pytest.fixture(scope="session")
def finished_workdir(tmp_path_factory, music_server) -> Path:
    """A tiny workflow run to completion once per session; copy it before changing anything."""
    wd = make_workdir(tmp_path_factory.mktemp("finished"), music_server, overrides=PERCEPTUAL)
    snakemake(wd, "--configfile", "config/test.yaml")
    return wd


@pytest.fixture
def workdir_copy(finished_workdir, tmp_path) -> Path:
    """A private copy of the finished run (mtimes and Snakemake metadata kept)."""
    dest = tmp_path / "wd"
    shutil.copytree(finished_workdir, dest, symlinks=True)
    return dest


class _FlakyHandler(http.server.BaseHTTPRequestHandler):
    """Serves :class:`FlakyServer`'s files, failing as each file's plan says; answers Range requests."""

    protocol_version = "HTTP/1.1"  # keep-alive and Content-Length, as real media servers do

    def log_message(self, format, *args):  # noqa: A002 - keep test output clean
        pass

    def do_HEAD(self):
        self._answer(body=False)

    def do_GET(self):
        self._answer(body=True)

    def _answer(self, *, body: bool) -> None:
        server: FlakyServer = self.server.flaky
        name = self.path.lstrip("/")
        range_header = self.headers.get("Range")
        with server.lock:
            server.requests.append((self.command, name, range_header))
            plan = server.plans.get(name)
            status = plan.statuses.pop(0) if plan is not None and plan.statuses else None
        if plan is None or status is not None:
            self.send_response(status or 404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = server.files[name]
        start = 0
        if range_header:
            start = int(re.fullmatch(r"bytes=(\d+)-\d*", range_header).group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", plan.content_type)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if not body:
            return
        if plan.cut and not range_header:
            # Promise the whole file, send half, then hang up (or hang until released): what a
            # reset connection or a killed client looks like from the other end.
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            if plan.cut == "stall":
                server.release.wait(60)
            self.close_connection = True
            return
        self.wfile.write(data[start:])


@dataclass
class FilePlan:
    """How :class:`FlakyServer` answers requests for one file."""

    statuses: list[int]  # answered in turn, one per request, before the file is served
    cut: str | None  # None, "drop" or "stall": what every request without a Range header gets
    content_type: str


@dataclass
class FlakyServer:
    """A loopback HTTP server whose files fail on purpose: error statuses first, or cut short.

    Every request is recorded as (method, file name, Range header or None).
    """

    base_url: str
    files: dict[str, bytes] = field(default_factory=dict)
    plans: dict[str, FilePlan] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)

    def serve(self, name: str, data: bytes, *, statuses: tuple[int, ...] = (), cut: str | None = None,
              content_type: str = "audio/wav") -> str:  # fmt: skip
        """Serve ``data`` as ``name``; return its URL.

        ``statuses`` answer the first requests (yt-dlp's first request for a direct link is its
        extractor's look at the URL, the next one the download); ``cut`` ("drop" or "stall")
        sends half of the file to every request without a Range header, then hangs up, or hangs
        until the test ends; requests with a Range header get the rest (206).
        """
        self.files[name] = data
        self.plans[name] = FilePlan(list(statuses), cut, content_type)
        return f"{self.base_url}/{name}"

    def ranges(self, name: str) -> list[str]:
        """The Range headers of the GET requests for ``name``, in order."""
        return [r for method, n, r in self.requests if method == "GET" and n == name and r]


@pytest.fixture
def flaky_server():
    server = _Server(("127.0.0.1", 0), _FlakyHandler)
    server.flaky = FlakyServer(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.flaky
    server.flaky.release.set()  # let stalled answers finish
    server.shutdown()
    server.server_close()
