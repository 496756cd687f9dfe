"""ingest: sources.tsv -> tracks (``tracks``), yt-dlp downloads with retries (``download``), which tracks
are usable and ``on_error`` (``track_status``), synthetic demo music (``demo``)."""
