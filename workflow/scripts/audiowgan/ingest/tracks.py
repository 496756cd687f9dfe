"""Rule ``tracks``: resolve ``sources.tsv`` into tracks (the downloads are :mod:`audiowgan.ingest.download`).

A source is a YouTube video or playlist, an RSS/Atom feed, a direct media link,
a ``file://`` URL or a local path. Playlists and feeds expand into one track per
entry (yt-dlp flat extraction); everything else is one track. Track ids are safe
file names, stable across runs: derived from the source's name, the entry's title
and a hash of its URL, never from anything that could leave ``results/``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

from audiowgan.core import atomic

log = logging.getLogger(__name__)

TRACK_COLUMNS = ["track", "title", "url", "source", "status", "reason"]
ALLOWED_SCHEMES = {"http", "https", "file"}
_ID_MAX = 64


class SourceError(ValueError):
    """A source that cannot be used, with a reason a person can act on."""


@dataclass(frozen=True)
class Track:
    track: str
    title: str
    url: str
    source: str
    status: str = "ok"
    reason: str = ""


def slugify(text: str, *, max_length: int = 40) -> str:
    """ASCII-only, path-safe slug: letters, digits, ``-`` and ``_``; never empty."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-_").lower()
    return text[:max_length].strip("-") or "track"


def url_hash(url: str) -> str:
    return hashlib.sha1(url.encode("utf-8")).hexdigest()[:8]


def track_id(name: str, url: str, title: str | None = None) -> str:
    """Stable id: ``<name>[-<title>]-<hash of url>``, at most 64 safe characters."""
    parts = [slugify(name, max_length=24)]
    if title:
        parts.append(slugify(title, max_length=_ID_MAX - 34))
    parts.append(url_hash(url))
    return "-".join(parts)


def normalise_url(url: str, *, base: Path | None = None) -> str:
    """Return an http(s) or file:// URL for ``url``; local paths become file:// URLs.

    Anything else (ftp:, javascript:, data:, ...) is refused with a reason.
    """
    url = str(url).strip()
    if not url:
        raise SourceError("empty url")
    parsed = urlparse(url)
    if parsed.scheme.lower() in ALLOWED_SCHEMES:
        if parsed.scheme.lower() in {"http", "https"} and not parsed.netloc:
            raise SourceError(f"url {url!r} has no host")
        return url
    if parsed.scheme and len(parsed.scheme) > 1:  # a one-letter scheme is a Windows drive
        raise SourceError(
            f"url {url!r} uses the scheme {parsed.scheme!r}; only http(s), file:// and local paths are accepted"
        )
    path = Path(url).expanduser()
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    return path.resolve().as_uri()


def is_local(url: str) -> bool:
    return urlparse(url).scheme == "file"


def local_path(url: str) -> Path:
    from urllib.request import url2pathname

    return Path(url2pathname(urlparse(url).path))


def read_sources(path: str | Path) -> pd.DataFrame:
    """Read the sources table (TSV with a header: name, url; ``#`` starts a comment)."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"sources file {str(path)!r} does not exist")
    table = pd.read_csv(path, sep="\t", comment="#", dtype=str, skip_blank_lines=True).fillna("")
    missing = {"name", "url"} - set(table.columns)
    if missing:
        raise SourceError(
            f"sources file {str(path)!r} needs the columns name and url (tab-separated, with a header); "
            f"missing: {', '.join(sorted(missing))}"
        )
    table["name"] = table["name"].str.strip()
    table["url"] = table["url"].str.strip()
    return table[table["url"] != ""].reset_index(drop=True)


class _YdlLogger:
    """yt-dlp's screen messages (progress included) as log lines; its own debug chatter dropped."""

    def debug(self, msg: str) -> None:
        if not msg.startswith("[debug] "):
            log.info("%s", msg)

    def info(self, msg: str) -> None:
        log.info("%s", msg)

    def warning(self, msg: str) -> None:
        log.warning("%s", msg)

    def error(self, msg: str) -> None:
        log.error("%s", msg)


def ydl_options(**extra) -> dict:
    return {
        "quiet": True,
        "no_warnings": False,
        "noprogress": True,
        "enable_file_urls": True,
        "logger": _YdlLogger(),
        **extra,
    }


def expand(name: str, url: str, *, base: Path | None = None) -> list[Track]:
    """Expand one source into tracks: a playlist or feed gives one per entry.

    A single track keeps ``url`` as written in sources.tsv (a relative local path
    stays relative), so its id and its download's params do not depend on where
    the workflow runs.
    """
    target = normalise_url(url, base=base)
    if is_local(target):
        path = local_path(target)
        if not path.is_file():
            raise SourceError(f"local file {str(path)!r} does not exist")
        return [Track(track_id(name, url), path.stem, url, name)]
    import yt_dlp

    with yt_dlp.YoutubeDL(ydl_options(extract_flat="in_playlist", skip_download=True)) as ydl:
        try:
            info = ydl.extract_info(target, download=False)
        except yt_dlp.utils.DownloadError as exc:
            raise SourceError(clean_error(exc)) from None
    if info is None:
        raise SourceError(f"yt-dlp found nothing at {url}")
    if info.get("_type") in {"playlist", "multi_video"}:
        tracks = []
        for entry in info.get("entries") or []:
            if not entry:
                continue
            entry_url = entry.get("url") or entry.get("webpage_url")
            if not entry_url:
                continue
            entry_url = yt_dlp.utils.unsmuggle_url(entry_url)[0]  # drop yt-dlp's private #__youtubedl_smuggle
            title = entry.get("title") or entry.get("id") or entry_url
            tracks.append(Track(track_id(name, entry_url, title), str(title), entry_url, name))
        if not tracks:
            raise SourceError(f"playlist {url} has no entries")
        return tracks
    title = info.get("title") or info.get("id") or url
    return [Track(track_id(name, url), str(title), url, name)]


def clean_error(exc: BaseException) -> str:
    # One line: yt-dlp's messages carry newlines, a carriage return (progress-line
    # reset) and its own "ERROR:" / "[download] Got error:" prefixes.
    text = " ".join(str(exc).split())
    text = re.sub(r"^ERROR:\s*", "", text)
    return re.sub(r"^\[download\] Got error:\s*", "", text)


def resolve(sources: pd.DataFrame, *, base: Path | None = None) -> pd.DataFrame:
    """Resolve every source into the tracks table (columns ``TRACK_COLUMNS``).

    A source that fails is kept as one row with status ``failed`` and its reason;
    a track listed twice (same URL) is kept once, later copies marked ``duplicate``.
    """
    rows: list[Track] = []
    for name, url in zip(sources["name"], sources["url"]):
        name = name or "source"
        try:
            found = expand(name, url, base=base)
        except SourceError as exc:
            log.warning("source %r (%s) skipped: %s", name, url, exc)
            rows.append(Track(track_id(name, url), name, url, name, "failed", str(exc)))
            continue
        log.info("source %r: %d track(s)", name, len(found))
        rows.extend(found)
    seen: set[str] = set()
    table = []
    for t in rows:
        if t.status == "ok" and t.url in seen:
            t = Track(t.track + "-dup", t.title, t.url, t.source, "duplicate", "same url listed earlier")
        seen.add(t.url)
        table.append(t.__dict__)
    return pd.DataFrame(table, columns=TRACK_COLUMNS)


def write_tracks(table: pd.DataFrame, path: str | Path) -> None:
    """Write the tracks table atomically."""
    with atomic.replacing(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
