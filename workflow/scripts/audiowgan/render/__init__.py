"""render: audio from a trained generator: clips (``generate``), long pieces (``longform``), and the
command line ``python -m audiowgan.render`` (``__main__``). TensorFlow only through :mod:`audiowgan.nn`."""
