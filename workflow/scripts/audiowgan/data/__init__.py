"""data: the per-track mel folders packed into one dataset, and its train/held-out splits (``pack``)."""
