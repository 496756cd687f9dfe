"""look: distances (``distances``), metrics.json (``evaluate``), plots (``plots``) and the HTML report
(``report``)."""
