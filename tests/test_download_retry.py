"""Downloads retry transient failures with backoff and resume partial files; permanent failures are not retried.

Real yt-dlp against a loopback server that fails on purpose (conftest.FlakyServer): error statuses
first, or a connection cut halfway through the file. is_transient is unit-tested on exceptions built
the way yt-dlp, urllib, http.client and requests raise them.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
from email.message import Message
from pathlib import Path

import numpy as np
import pytest
import requests
from yt_dlp.networking import Response
from yt_dlp.networking.exceptions import CertificateVerifyError, HTTPError, IncompleteRead, TransportError
from yt_dlp.utils import ContentTooShortError, DownloadError, ExtractorError

from audiowgan.dsp import audio
from audiowgan.ingest import demo
from audiowgan.ingest import download as dl
from audiowgan.ingest import tracks as sources
from conftest import REPO, dry_run_counts

SECONDS = 3.0
SR = 22050


@pytest.fixture(scope="module")
def piece(tmp_path_factory) -> bytes:
    """A WAV of synthetic music, SECONDS long."""
    path = tmp_path_factory.mktemp("piece") / "piece.wav"
    audio.write_wav(path, demo.piece(seed=11, seconds=SECONDS, sample_rate=SR), SR)
    return path.read_bytes()


def decoded_seconds(path: Path) -> float:
    return sum(len(b) for b in audio.stream_blocks(path, sample_rate=SR, block_samples=SR)) / SR


def yt_http_error(status: int) -> HTTPError:
    return HTTPError(Response(io.BytesIO(b""), "http://h/a.wav", {}, status=status))


def wrapped(inner: BaseException, message: str) -> DownloadError:
    """A DownloadError the way YoutubeDL.trouble builds it: the original exception in exc_info."""
    return DownloadError(message, (type(inner), inner, None))


def chained(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


def requests_http_error(status: int) -> requests.exceptions.HTTPError:
    response = requests.models.Response()
    response.status_code = status
    return requests.exceptions.HTTPError(f"{status} Server Error", response=response)


TRANSIENT = {
    "yt-dlp 503": yt_http_error(503),
    "yt-dlp 500": yt_http_error(500),
    "yt-dlp 429": yt_http_error(429),
    "yt-dlp 408": yt_http_error(408),
    "extraction 503 in DownloadError": wrapped(yt_http_error(503), "ERROR: [generic] a: Unable to download webpage"),
    "extraction 502 as ExtractorError cause": wrapped(
        ExtractorError("Unable to download webpage", cause=yt_http_error(502)), "ERROR: [youtube] x: Unable to"
    ),
    "reset, as yt-dlp's TransportError": wrapped(
        TransportError(cause=ConnectionResetError(104, "Connection reset by peer")), "ERROR: [generic] a: Unable"
    ),
    "refused": wrapped(TransportError(cause=ConnectionRefusedError(111, "Connection refused")), "ERROR: Unable"),
    "yt-dlp IncompleteRead": IncompleteRead(partial=10, expected=20),
    "ContentTooShortError": ContentTooShortError(10, 20),
    "cut short (text only)": DownloadError("ERROR: \r[download] Got error: 88222 bytes read, 88222 more expected"),
    "503 (text only)": DownloadError("ERROR: \r[download] Got error: HTTP Error 503: Unavailable"),
    "timed out (text only)": DownloadError("ERROR: \r[download] Got error: The read operation timed out"),
    "SourceError from a 503": chained(sources.SourceError("HTTP Error 503"), wrapped(yt_http_error(503), "ERROR")),
    "urllib 503": urllib.error.HTTPError("http://h/a", 503, "Service Unavailable", Message(), None),
    "urllib refused": urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")),
    "urllib timeout": urllib.error.URLError(TimeoutError("timed out")),
    "DNS try again": urllib.error.URLError(socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")),
    "http.client IncompleteRead": http.client.IncompleteRead(b"abc", 10),
    "http.client RemoteDisconnected": http.client.RemoteDisconnected("Remote end closed connection"),
    "ConnectionResetError": ConnectionResetError(104, "Connection reset by peer"),
    "BrokenPipeError": BrokenPipeError(32, "Broken pipe"),
    "TimeoutError (socket.timeout)": TimeoutError("timed out"),
    "requests 502": requests_http_error(502),
    "requests ConnectionError": requests.exceptions.ConnectionError("Connection aborted."),
    "requests ReadTimeout": requests.exceptions.ReadTimeout("Read timed out."),
    "requests ChunkedEncodingError": requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"),
}

PERMANENT = {
    "yt-dlp 404": yt_http_error(404),
    "yt-dlp 403": yt_http_error(403),
    "yt-dlp 410": yt_http_error(410),
    "extraction 404 in DownloadError": wrapped(yt_http_error(404), "ERROR: [generic] a: Unable to download webpage"),
    "404 wins over a retried 503 inside it": wrapped(chained(yt_http_error(404), yt_http_error(503)), "ERROR"),
    "downloader 403 (text only)": DownloadError("ERROR: \r[download] Got error: HTTP Error 403: Forbidden"),
    "video unavailable": wrapped(
        ExtractorError("Video unavailable. This video has been removed by the uploader", expected=True),
        "ERROR: [youtube] abc: Video unavailable. This video has been removed by the uploader",
    ),
    "private video": DownloadError("ERROR: [youtube] abc: Private video. Sign in if you've been granted access"),
    "unsupported url": DownloadError("ERROR: Unsupported URL: https://example.org/page"),
    "undecodable": DownloadError("ERROR: Postprocessing: audio conversion failed: Invalid data found when processing"),
    "bad certificate": wrapped(CertificateVerifyError("certificate verify failed"), "ERROR: Unable to download"),
    "DNS no such host": urllib.error.URLError(socket.gaierror(socket.EAI_NONAME, "Name or service not known")),
    "urllib 404": urllib.error.HTTPError("http://h/a", 404, "Not Found", Message(), None),
    "requests 410": requests_http_error(410),
    "disk full": OSError(28, "No space left on device"),
    "no audio": sources.SourceError("yt-dlp produced no audio for http://h/a"),
    "unknown": ValueError("something else"),
}


@pytest.mark.parametrize("exc", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_transient_failures_are_recognised(exc):
    assert dl.is_transient(exc) is True


@pytest.mark.parametrize("exc", PERMANENT.values(), ids=PERMANENT.keys())
def test_permanent_failures_are_recognised(exc):
    assert dl.is_transient(exc) is False


def test_is_transient_survives_a_cycle_in_the_chain():
    a, b = ValueError("a"), ValueError("b")
    a.__cause__, b.__cause__ = b, a
    assert dl.is_transient(a) is False


def download(server, url, tmp_path, *, retries=3, backoff_seconds=0.01):
    """download_track into tmp_path/audio; return (status, seconds taken, audio path)."""
    audio_path, status_path = tmp_path / "audio" / "t.mp3", tmp_path / "audio" / "t.json"
    start = time.monotonic()
    status = dl.download_track(url, audio_path, status_path, retries=retries, backoff_seconds=backoff_seconds)
    took = time.monotonic() - start
    assert json.loads(status_path.read_text()) == status
    return status, took, audio_path


@pytest.mark.parametrize("code", [503, 429])
def test_transient_errors_are_retried_with_backoff(flaky_server, piece, tmp_path, code):
    url = flaky_server.serve("a.wav", piece, statuses=(code, code))
    status, took, path = download(flaky_server, url, tmp_path, retries=3, backoff_seconds=0.01)
    assert status["status"] == "ok" and status["attempts"] == 3
    assert [f["wait_seconds"] for f in status["failures"]] == [0.01, 0.02]
    assert all(f["transient"] and str(code) in f["reason"] for f in status["failures"])
    assert took >= 0.03
    assert abs(decoded_seconds(path) - SECONDS) < 0.1
    assert sorted(p.name for p in path.parent.iterdir()) == ["t.json", "t.mp3"]  # the partial folder is gone


def test_retries_run_out_and_the_track_is_recorded_as_failed(flaky_server, piece, tmp_path):
    url = flaky_server.serve("a.wav", piece, statuses=(503,) * 10)
    status, _, path = download(flaky_server, url, tmp_path, retries=2, backoff_seconds=0.01)
    assert status["status"] == "download-failed" and "503" in status["reason"]
    assert status["attempts"] == 3 and len(flaky_server.requests) == 3
    assert [f["wait_seconds"] for f in status["failures"]] == [0.01, 0.02, None]
    assert path.read_bytes() == b""


def test_a_cut_connection_is_resumed_with_a_range_request(flaky_server, piece, tmp_path):
    url = flaky_server.serve("a.wav", piece, cut="drop")
    status, _, path = download(flaky_server, url, tmp_path, retries=3, backoff_seconds=0.01)
    assert status["status"] == "ok" and status["attempts"] == 2, status
    assert "more expected" in status["failures"][0]["reason"]
    # The second attempt asked for the rest: from what the first wrote to its .part file (at most
    # the half the server sent: a block that was cut short is not written).
    (resumed,) = flaky_server.ranges("a.wav")
    assert 0 < int(re.fullmatch(r"bytes=(\d+)-", resumed).group(1)) <= len(piece) // 2
    assert abs(decoded_seconds(path) - SECONDS) < 0.1
    # Byte for byte what an uninterrupted download gives.
    clean = flaky_server.serve("clean.wav", piece)
    assert path.read_bytes() == dl.download(clean, tmp_path / "clean" / "c.mp3").read_bytes()


def test_a_killed_download_resumes_in_the_next_run(flaky_server, piece, tmp_path):
    url = flaky_server.serve("a.wav", piece, cut="stall")
    audio_path, status_path = tmp_path / "audio" / "t.mp3", tmp_path / "audio" / "t.json"
    code = "import sys; from audiowgan.ingest import download as dl; dl.download_track(*sys.argv[1:], retries=0, backoff_seconds=0)"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, url, str(audio_path), str(status_path)],
        env={**os.environ, "PYTHONPATH": str(REPO / "workflow" / "scripts")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        part, size, deadline = None, -1, time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the half that was sent is on disk
            parts = list(dl.partial_dir(audio_path).glob("*.part"))
            if parts and parts[0].stat().st_size == size > 0:
                part = parts[0]
                break
            size = parts[0].stat().st_size if parts else -1
            time.sleep(0.3)
        assert part is not None, "the download never wrote its partial file"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # no clean-up at all: a job killed by the scheduler
        proc.wait()
    assert not status_path.exists()
    status = dl.download_track(url, audio_path, status_path, retries=0, backoff_seconds=0)
    assert status["status"] == "ok" and status["attempts"] == 1
    assert flaky_server.ranges("a.wav") == [f"bytes={size}-"] and size > 0
    assert abs(decoded_seconds(audio_path) - SECONDS) < 0.1
    assert not dl.partial_dir(audio_path).exists()


@pytest.mark.parametrize("code", [404, 403, 410])
def test_permanent_errors_are_not_retried(flaky_server, piece, tmp_path, code):
    # Only the first request fails: a retry would have succeeded.
    url = flaky_server.serve("a.wav", piece, statuses=(code,))
    status, took, path = download(flaky_server, url, tmp_path, retries=3, backoff_seconds=30)
    assert status["status"] == "download-failed" and str(code) in status["reason"]
    assert status["attempts"] == 1 and status["failures"][0]["transient"] is False
    assert took < 10  # no 30-second wait
    assert path.read_bytes() == b"" and not dl.partial_dir(path).exists()


def test_an_undecodable_file_is_not_retried(flaky_server, tmp_path):
    noise = np.random.default_rng(0).bytes(20000)
    url = flaky_server.serve("corrupt.mp3", noise, content_type="audio/mpeg")
    status, took, path = download(flaky_server, url, tmp_path, retries=3, backoff_seconds=30)
    assert status["status"] == "download-failed" and status["attempts"] == 1, status
    assert took < 10 and not dl.partial_dir(path).exists()


@pytest.mark.workflow
def test_workflow_records_attempts_and_retry_settings_rerun_nothing(workdir_copy):
    """The rule passes download.retries/backoff_seconds; changing them never fetches a track again."""
    statuses = [json.loads(p.read_text()) for p in (workdir_copy / "results" / "audio").glob("*.json")]
    assert statuses and all(s["attempts"] == 1 and s["failures"] == [] for s in statuses)
    assert not list((workdir_copy / "results" / "audio").glob(".partial-*"))
    changed = ["--config", "download={retries: 7, backoff_seconds: 0.5}"]
    assert dry_run_counts(workdir_copy, "--configfile", "config/test.yaml", *changed) == {}
