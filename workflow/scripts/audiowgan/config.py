"""Config checks run by the Snakefile before any job: types, bounds, cross-field rules.

``--config "mel={hop_length: 256}"`` hands values over as strings; :func:`coerce`
converts them to the types the schema asks for, and :func:`check` turns every
problem into one line naming the key, the value and the rule.
"""

from __future__ import annotations

from .settings import AudioSpec, ConfigError, coerce, fill_defaults, validate

__all__ = ["ConfigError", "check", "coerce"]


def check(config: dict, schema: dict) -> dict:
    """Coerce, fill defaults and validate; raise ConfigError with one clear line on the first problem.

    Defaults come first: as a module of another workflow, the host's config is all there is (the
    module's configfile is not read), and a key it omits means the schema's default, as it does in a
    standalone run, where config/config.yaml holds exactly those defaults.
    """
    config = coerce(config, schema)
    fill_defaults(config, schema)
    validate(config, schema)
    _cross_checks(config)
    return config


def _cross_checks(config: dict) -> None:
    from .features import check_mel_params

    mel = config["mel"]
    try:
        check_mel_params(
            sample_rate=config["audio"]["sample_rate"],
            n_fft=mel["n_fft"],
            hop_length=mel["hop_length"],
            n_mels=mel["n_mels"],
            top_db=mel["top_db"],
            fmin=mel["fmin"],
            fmax=mel["fmax"],
        )
    except ValueError as exc:
        raise ConfigError(f"config section 'mel': {exc}") from None
    seg_samples = config["audio"]["segment_seconds"] * config["audio"]["sample_rate"]
    if seg_samples < mel["n_fft"]:
        raise ConfigError(
            f"config key 'audio.segment_seconds' = {config['audio']['segment_seconds']}: a segment of "
            f"{int(seg_samples)} samples is shorter than mel.n_fft = {mel['n_fft']}"
        )
    AudioSpec.from_mapping(config["audio"])  # its own rules: a hop of at most one segment, at least one sample
