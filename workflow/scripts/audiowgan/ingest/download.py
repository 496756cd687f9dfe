"""Rule ``download``: one track's audio with yt-dlp, as MP3, with retries; the outcome recorded.

Downloads survive a flaky network: :func:`download_track` retries transient failures
(:func:`is_transient`: HTTP 5xx and 429, timeouts, dropped connections) with exponential
backoff, and every attempt, in the job or in a rerun of a killed job, resumes the partial
file that yt-dlp keeps in a stable folder beside the output (:func:`partial_dir`).
"""

from __future__ import annotations

import http.client
import logging
import re
import shutil
import socket
import sys
import time
import urllib.error
from pathlib import Path

from audiowgan.core import atomic
from audiowgan.ingest.tracks import SourceError, clean_error, normalise_url, ydl_options

log = logging.getLogger(__name__)


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status an exception carries, from yt-dlp, urllib or requests; None for others."""
    from yt_dlp.networking.exceptions import HTTPError as YtdlpHTTPError

    if isinstance(exc, YtdlpHTTPError):
        return exc.status
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code
    requests = sys.modules.get("requests")  # only if something loaded it: never imported for this
    if requests is not None and isinstance(exc, requests.exceptions.HTTPError):
        return getattr(exc.response, "status_code", None)
    return None


def _network_verdict(exc: BaseException) -> bool | None:
    """True (transient), False (permanent) or None (this exception alone does not say)."""
    from yt_dlp.networking.exceptions import CertificateVerifyError, TransportError
    from yt_dlp.utils import ContentTooShortError

    status = _http_status(exc)
    if status is not None:
        # 5xx: the server's trouble; 429: too many requests; 408: it timed us out. Any other
        # status (404, 403, 410, ...) says the same thing on every attempt.
        return status in (408, 429) or 500 <= status <= 599
    if isinstance(exc, CertificateVerifyError):  # a bad certificate stays bad
        return False
    if isinstance(exc, socket.gaierror):  # DNS: only "try again" is worth trying again
        return exc.errno == socket.EAI_AGAIN
    # yt-dlp's TransportError covers resets, refused connections, timeouts, proxy trouble and its
    # IncompleteRead; ConnectionError covers ConnectionReset/Refused/Aborted, BrokenPipe and
    # http.client.RemoteDisconnected; TimeoutError is socket.timeout.
    network: list[type] = [
        TransportError,
        ContentTooShortError,
        http.client.IncompleteRead,
        ConnectionError,
        TimeoutError,
    ]
    if (requests := sys.modules.get("requests")) is not None:
        network += [requests.exceptions.ConnectionError, requests.exceptions.Timeout]
        network += [requests.exceptions.ChunkedEncodingError]
    if (urllib3 := sys.modules.get("urllib3")) is not None:
        network += [urllib3.exceptions.ProtocolError, urllib3.exceptions.TimeoutError]
        network += [urllib3.exceptions.NewConnectionError]
    return True if isinstance(exc, tuple(network)) else None


def _causes(exc: BaseException, *, limit: int = 32) -> list[BaseException]:
    """``exc`` and what it wraps, outermost first, each once.

    Follows ``__cause__`` and ``__context__``, yt-dlp's ``exc_info`` (DownloadError and
    ExtractorError keep the original exception there) and ``cause`` (its network errors),
    and urllib's ``URLError.reason`` when that is an exception.
    """
    found: list[BaseException] = []
    queue = [exc]
    while queue and len(found) < limit:
        e = queue.pop(0)
        if e is None or not isinstance(e, BaseException) or any(e is f for f in found):
            continue
        found.append(e)
        exc_info = getattr(e, "exc_info", None)
        queue += [
            e.__cause__,
            exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) > 1 else None,
            getattr(e, "cause", None),
            getattr(e, "reason", None),
            None if e.__suppress_context__ else e.__context__,
        ]
    return found


# yt-dlp reports some failures as text only: when its HTTP downloader gives up (after
# ``retries``) it raises a DownloadError built from the message, without the exception.
_TRANSIENT_TEXT = re.compile(
    r"HTTP Error (?:5\d\d|429|408)\b"
    r"|\d+ bytes read(?:, \d+ more expected)?"  # yt-dlp's and http.client's IncompleteRead
    r"|Downloaded \d+ bytes, expected \d+ bytes"  # yt-dlp's ContentTooShortError
    r"|timed out|Connection (?:reset|refused|aborted)|Remote end closed connection|Broken pipe"
    r"|Temporary failure in name resolution",
    re.IGNORECASE,
)


def is_transient(exc: BaseException) -> bool:
    """Whether a failed download is worth another attempt.

    Transient: HTTP 5xx, 429 and 408, timeouts, connections reset, refused or aborted,
    a response cut short (incomplete read), a DNS "try again". Permanent: any other HTTP
    status (404, 403, 410, ...), an unavailable or private video, an unsupported URL, a
    file ffmpeg cannot convert, and anything not recognised.

    Parameters
    ----------
    exc : BaseException
        What the download raised: a :class:`SourceError` or yt-dlp's ``DownloadError``,
        with the original error somewhere in its chain (``__cause__``, yt-dlp's
        ``exc_info`` or ``cause``, urllib's ``reason``); urllib, http.client, requests,
        urllib3 and socket errors are recognised by type.

    Returns
    -------
    bool
        True to retry; False to record the failure at once.

    Notes
    -----
    The outermost exception that carries a verdict decides (an HTTP status, a network
    error type). Only when none does are the messages read, because yt-dlp's HTTP
    downloader reports a failure as text alone ("Got error: 88222 bytes read, 88222
    more expected", "Got error: HTTP Error 503: Service Unavailable").
    """
    chain = _causes(exc)
    for e in chain:
        verdict = _network_verdict(e)
        if verdict is not None:
            return verdict
    return any(_TRANSIENT_TEXT.search(str(e)) for e in chain)


def partial_dir(output: str | Path) -> Path:
    """The folder where the download of ``output`` is kept until it is complete.

    Stable per output (``<folder>/.partial-<name>/``), so that an attempt after a failure,
    in the same job or in a rerun of a killed one, finds yt-dlp's ``.part`` file and resumes
    it with an HTTP Range request. A sibling of ``output`` rather than a shared ``.partial/``
    folder, so removing it after success can never race another track's download.
    """
    output = Path(output)
    return output.parent / f".partial-{output.stem}"


def download(url: str, output: str | Path) -> Path:
    """Download ``url`` with yt-dlp and extract its audio to ``output`` (an .mp3).

    One attempt: a failure raises :class:`SourceError` with the original error as its
    ``__cause__`` (for :func:`is_transient`), and leaves the partial download in
    :func:`partial_dir` for the next attempt to resume.

    Parameters
    ----------
    url : str
        Anything :func:`normalise_url` accepts (a local path is read relative to the
        working directory).
    output : str or Path
        The MP3 to write. It appears only when complete: download and conversion happen
        in :func:`partial_dir`, which is removed afterwards.

    Returns
    -------
    Path
        ``output``.
    """
    import yt_dlp

    url = normalise_url(url)
    output = Path(output)
    work = partial_dir(output)
    work.mkdir(parents=True, exist_ok=True)
    opts = ydl_options(
        format="bestaudio/best",
        # The format id in the name: a resumed .part is only ever continued with the bytes of
        # the same format (a fresh extraction may pick another one of the same extension).
        outtmpl=str(work / "audio.%(format_id)s.%(ext)s"),
        noplaylist=True,
        noprogress=False,
        quiet=False,
        continuedl=True,  # resume a .part left by an earlier attempt (yt-dlp's default, relied on here)
        # yt-dlp's own retries would retry at once, unseen by our attempt count and without
        # backoff; our loop (download_track) waits, re-extracts (fresh media URLs) and resumes.
        retries=0,
        fragment_retries=0,
        # A fragment that failed is an error of this attempt (resumed from yt-dlp's .ytdl state
        # next time), not a silent gap in the music.
        skip_unavailable_fragments=False,
        postprocessors=[{"key": "FFmpegExtractAudio", "preferredcodec": "mp3", "preferredquality": "2"}],
    )
    with yt_dlp.YoutubeDL(opts) as ydl:
        try:
            info = ydl.extract_info(url, download=True)
        except yt_dlp.utils.DownloadError as exc:
            raise SourceError(clean_error(exc)) from exc
    produced = [Path(d["filepath"]) for d in (info or {}).get("requested_downloads") or [] if d.get("filepath")]
    produced = [p for p in produced if p.suffix == ".mp3" and p.is_file()] or sorted(work.glob("*.mp3"))
    if len(produced) != 1:
        raise SourceError(f"yt-dlp produced no audio for {url}")
    shutil.move(produced[0], output)
    shutil.rmtree(work, ignore_errors=True)
    return output


_MAX_WAIT_SECONDS = 600.0  # a ceiling for the doubling: schema allows 20 retries, 5 * 2**19 s is absurd


def download_track(
    url: str, audio_path: str | Path, status_path: str | Path, *, retries: int, backoff_seconds: float
) -> dict:
    """Download one track; record the outcome in ``status_path`` (JSON) instead of failing.

    A transient failure (:func:`is_transient`) is retried up to ``retries`` times, after
    ``backoff_seconds``, then twice that, and so on (each wait at most 10 minutes); each
    attempt resumes the partial file of the one before. A permanent failure, or a transient
    one that outlasts the retries, leaves the audio file empty and the status
    ``download-failed`` with the reason, so the rest of the workflow can skip the track and
    the ``tracks`` table can report it. Delete both files to try again: a partial download
    kept after transient failures is resumed then.

    Parameters
    ----------
    url : str
        The track's URL (anything :func:`normalise_url` accepts).
    audio_path : str or Path
        The MP3 to write.
    status_path : str or Path
        The JSON status to write: ``status`` (``ok`` or ``download-failed``), ``reason``,
        ``bytes``, ``attempts`` (1 without retries) and ``failures`` (one record per failed
        attempt: ``attempt``, ``reason``, ``transient``, and ``wait_seconds`` before the next
        attempt, None after the last).
    retries : int
        Further attempts after a transient failure (config ``download.retries``).
    backoff_seconds : float
        Wait before the first retry, doubled before each further one (config
        ``download.backoff_seconds``).

    Returns
    -------
    dict
        The status written.
    """
    failures: list[dict] = []
    attempt = 0
    while True:
        attempt += 1
        try:
            path = download(url, audio_path)
        except Exception as exc:  # yt-dlp and ffmpeg raise many kinds; is_transient sorts them
            reason = clean_error(exc) or type(exc).__name__
            transient = is_transient(exc)
            wait = min(float(backoff_seconds) * 2 ** (attempt - 1), _MAX_WAIT_SECONDS)
            retry = transient and attempt <= retries
            failures.append(
                {"attempt": attempt, "reason": reason, "transient": transient, "wait_seconds": wait if retry else None}
            )
            if retry:
                log.warning(
                    "download of %s failed (attempt %d of %d, transient): %s; retrying in %.2f s",
                    url,
                    attempt,
                    retries + 1,
                    reason,
                    wait,
                )
                time.sleep(wait)
                continue
            _give_up(url, audio_path, reason, transient=transient, attempts=attempt)
            status = {"status": "download-failed", "reason": reason, "bytes": 0}
        else:
            status = {"status": "ok", "reason": "", "bytes": path.stat().st_size}
            if failures:
                log.info("download of %s succeeded at attempt %d", url, attempt)
        status.update(attempts=attempt, failures=failures)
        atomic.write_json(status_path, status)
        return status


def _give_up(url: str, audio_path: str | Path, reason: str, *, transient: bool, attempts: int) -> None:
    """Leave the audio file empty (the track is skipped) and say what happens to the partial download."""
    work = partial_dir(audio_path)
    if transient:
        log.warning(
            "download of %s failed after %d attempt(s), track skipped: %s (delete %s and its .json and run "
            "again to resume the partial download kept in %s)",
            url,
            attempts,
            reason,
            audio_path,
            work,
        )
    else:
        shutil.rmtree(work, ignore_errors=True)  # nothing to resume after a permanent failure: leave no litter
        log.warning("download of %s failed (permanent), track skipped: %s", url, reason)
    Path(audio_path).write_bytes(b"")
