"""Render more from a trained model without the workflow: clips, or long pieces with ``--seconds``.

    PYTHONPATH=workflow/scripts .venv/bin/python -m audiowgan.render --model results/model --n 50 --seed 100 --out more
    PYTHONPATH=workflow/scripts .venv/bin/python -m audiowgan.render --model results/model --seconds 120 --out long

The same code as the ``generate`` and ``longform`` rules (:mod:`.generate`, :mod:`.longform`); defaults come
from the config schema. The audio settings come from the copy of the dataset's meta.json that
``train`` records in model.json, so only the model folder is needed. Files are named like the
rules' (``clip_NNN.wav``, ``piece_NNN.wav``), with a ``manifest.csv``; existing files are replaced.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from audiowgan.core.names import WEIGHTS, clip_file, piece_file
from audiowgan.core.settings import ConfigError, GenerateSpec


def parser() -> argparse.ArgumentParser:
    d = GenerateSpec.from_mapping()  # the schema's defaults
    ap = argparse.ArgumentParser(prog="python -m audiowgan.render", description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="a trained model folder (results/model)")
    ap.add_argument("--out", type=Path, required=True, help="folder for the WAVs (created) and manifest.csv")
    ap.add_argument(
        "--n", type=int, default=None, help=f"clips (default {d.n_clips}) or pieces (default {d.longform.n})"
    )
    ap.add_argument("--seed", type=int, default=None, help="clip/piece i uses seed + i (defaults: as the config)")
    ap.add_argument("--seconds", type=float, default=None, help="render long pieces of this many seconds")
    ap.add_argument("--overlap", type=float, default=d.longform.overlap_seconds, help="crossfade seconds (pieces)")
    ap.add_argument(
        "--anchor-seconds",
        type=float,
        default=d.longform.anchor_seconds,
        help="seconds between the walk's latent points (pieces)",
    )
    ap.add_argument("--weights", choices=sorted(WEIGHTS), default=d.weights)
    ap.add_argument(
        "--temperature",
        type=float,
        default=d.temperature,
        help="spread of the latents: 1 as trained, above 1 more varied",
    )
    ap.add_argument("--griffin-lim-iters", type=int, default=d.griffin_lim_iters)
    ap.add_argument("--inversion", choices=["fast", "librosa"], default=d.inversion)
    ap.add_argument("--target-dbfs", type=float, default=d.target_dbfs)
    ap.add_argument("--formats", default=",".join(d.formats), help="compressed copies, e.g. mp3,ogg ('' for none)")
    return ap


def settings(args: argparse.Namespace) -> GenerateSpec:
    """The options as a checked generate section: a bad value names the option's config key."""
    d = GenerateSpec.from_mapping()
    clips = args.seconds is None

    def given(value, default):  # `is None`, not `or`: 0 is a value (refused by the schema), not "unset"
        return default if value is None else value

    return GenerateSpec.from_mapping(
        griffin_lim_iters=args.griffin_lim_iters,
        inversion=args.inversion,
        weights=args.weights,
        temperature=args.temperature,
        target_dbfs=args.target_dbfs,
        formats=[f for f in args.formats.split(",") if f],
        n_clips=given(args.n, d.n_clips) if clips else d.n_clips,
        seed=given(args.seed, d.seed) if clips else d.seed,
        longform={
            "n": given(args.n, d.longform.n),
            "seconds": given(args.seconds, d.longform.seconds),
            "overlap_seconds": args.overlap,
            "anchor_seconds": args.anchor_seconds,
            "seed": given(args.seed, d.longform.seed),
        },
    )


def check_model(model_dir: Path, weights: str) -> None:
    """Refuse a folder that is not a trained model before anything is written."""
    for name in ("model.json", weights):
        if not (model_dir / name).is_file():
            raise ConfigError(f"--model {model_dir}: no {name} there (give the folder train writes, results/model)")


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    try:
        spec = settings(args)
        check_model(args.model, WEIGHTS[spec.weights])
    except ConfigError as exc:
        ap.error(str(exc))  # one line and exit status 2, like argparse's own errors
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    log = logging.getLogger("audiowgan.render")
    # Rendering imports TensorFlow (seconds): only once the options are known to be good.
    from audiowgan.render import generate, longform

    args.out.mkdir(parents=True, exist_ok=True)
    common = {
        "model_dir": args.model,
        "dataset_meta": None,
        "manifest": args.out / "manifest.csv",
        "griffin_lim_iters": spec.griffin_lim_iters,
        "target_dbfs": spec.target_dbfs,
        "inversion_method": spec.inversion,
        "weights": WEIGHTS[spec.weights],
        "temperature": spec.temperature,
        "formats": spec.formats,
        "log": log,
    }
    if args.seconds is None:
        clips = [args.out / clip_file(i) for i in range(spec.n_clips)]
        generate.generate(clips=clips, seed=spec.seed, **common)
    else:
        pieces = [args.out / piece_file(i) for i in range(spec.longform.n)]
        longform.longform(pieces=pieces, spec=spec.longform, **common)
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
