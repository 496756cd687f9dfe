"""data: the per-track mel folders packed into one dataset, and its train/held-out splits (``pack``); the
training mels' per-band statistics (``band_stats``); rows read from the file, not its memory map (``rows``)."""
