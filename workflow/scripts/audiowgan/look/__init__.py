"""look: distances (``distances``), the embedding networks' table (``embedders``), metrics.json (``evaluate``),
the copy check (``nearest``), plots (``plots``) and the HTML report (``report``)."""
