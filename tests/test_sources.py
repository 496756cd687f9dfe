"""Unit tests of audiowgan.ingest.tracks: ids, URL rules, the sources table, yt-dlp over loopback."""

from __future__ import annotations

import pandas as pd
import pytest

from audiowgan.ingest import download
from audiowgan.ingest import tracks as sources


@pytest.mark.parametrize(
    "text, slug",
    [("Lo-Fi Beats (2 hours)", "lo-fi-beats-2-hours"), ("../../etc/passwd", "etc-passwd"), ("Café ♫ Ñandú", "cafe-nandu"),
     ("", "track"), ("///", "track"), ("a/b\\c", "a-b-c")],
)  # fmt: skip
def test_slugify_is_path_safe(text, slug):
    assert sources.slugify(text) == slug


def test_track_ids_are_safe_stable_and_distinct():
    a = sources.track_id("lofi", "https://example.org/a.mp3", "Side A / ../..")
    assert a == sources.track_id("lofi", "https://example.org/a.mp3", "Side A / ../..")
    assert a != sources.track_id("lofi", "https://example.org/b.mp3", "Side A / ../..")
    assert len(a) <= 64 and "/" not in a and ".." not in a
    assert a.startswith("lofi-side-a-")


@pytest.mark.parametrize(
    "url", ["https://www.youtube.com/watch?v=abc", "http://127.0.0.1:8000/x.wav", "file:///tmp/x.wav"]
)
def test_allowed_urls_pass_unchanged(url):
    assert sources.normalise_url(url) == url


def test_local_paths_become_file_urls(tmp_path):
    assert sources.normalise_url("music/a song.wav", base=tmp_path) == (tmp_path / "music/a song.wav").as_uri()


@pytest.mark.parametrize(
    "url", ["ftp://example.org/a.mp3", "javascript:alert(1)", "data:audio/wav;base64,AAAA", "http:///nohost"]
)
def test_other_schemes_are_refused_with_a_reason(url):
    with pytest.raises(sources.SourceError, match="scheme|host"):
        sources.normalise_url(url)


def test_read_sources_skips_comments_and_needs_columns(tmp_path):
    good = tmp_path / "s.tsv"
    good.write_text("name\turl\n# a comment\nx\thttp://h/a.mp3\n\n")
    assert sources.read_sources(good).to_dict("records") == [{"name": "x", "url": "http://h/a.mp3"}]
    bad = tmp_path / "bad.tsv"
    bad.write_text("title\tlink\nx\thttp://h/a.mp3\n")
    with pytest.raises(sources.SourceError, match="missing: name, url"):
        sources.read_sources(bad)
    with pytest.raises(sources.SourceError, match="does not exist"):
        sources.read_sources(tmp_path / "nope.tsv")


def test_resolve_expands_feeds_and_keeps_failures_with_reasons(music_server, tmp_path):
    table = sources.resolve(
        pd.DataFrame(
            {
                "name": ["direct", "feed", "gone", "ftp", "again"],
                "url": [music_server.url("direct.wav"), music_server.url("feed.xml"), music_server.url("missing.wav"),
                        "ftp://h/a.mp3", music_server.url("direct.wav")],
            }
        ),
        base=tmp_path,
    )  # fmt: skip
    assert table["status"].tolist() == ["ok", "ok", "ok", "failed", "failed", "duplicate"]
    assert "404" in table["reason"].iloc[3]
    assert "scheme" in table["reason"].iloc[4]
    assert table["track"].is_unique


def test_download_extracts_mp3_atomically(music_server, tmp_path):
    out = download.download(music_server.url("episode-1.wav"), tmp_path / "audio" / "t.mp3")
    assert out.stat().st_size > 1000
    assert [p.name for p in (tmp_path / "audio").iterdir()] == ["t.mp3"]  # no temporary left behind
