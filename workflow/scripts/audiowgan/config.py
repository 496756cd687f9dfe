"""Config checks run by the Snakefile before any job: types, bounds, cross-field rules.

``--config "mel={hop_length: 256}"`` hands values over as strings; :func:`coerce`
converts them to the types the schema asks for, and :func:`check` turns every
problem into one line naming the key, the value and the rule.
"""

from __future__ import annotations

import copy
from typing import Any


class ConfigError(ValueError):
    pass


def _coerce_value(value: Any, types: list[str]) -> Any:
    if not isinstance(value, str):
        if "integer" in types and isinstance(value, float) and value.is_integer():
            return int(value)
        if "number" in types and "integer" not in types and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value
    text = value.strip()
    if "null" in types and text.lower() in {"null", "none", "~", ""}:
        return None
    if "boolean" in types and text.lower() in {"true", "false", "yes", "no"}:
        return text.lower() in {"true", "yes"}
    if "integer" in types:
        try:
            as_float = float(text)
        except ValueError:
            return value
        return int(as_float) if as_float.is_integer() else value
    if "number" in types:
        try:
            return float(text)
        except ValueError:
            return value
    return value


def coerce(config: dict, schema: dict) -> dict:
    """Return a copy of ``config`` with string numbers/booleans converted as the schema asks."""

    def walk(value, sub):
        types = sub.get("type", [])
        types = [types] if isinstance(types, str) else list(types)
        if isinstance(value, dict) and "properties" in sub:
            return {k: walk(v, sub["properties"].get(k, {})) for k, v in value.items()}
        if isinstance(value, list) and "items" in sub:
            return [walk(v, sub["items"]) for v in value]
        if isinstance(value, str) and "array" in types and value.strip().startswith("["):
            import yaml

            return walk(yaml.safe_load(value), sub)
        return _coerce_value(value, types)

    return walk(copy.deepcopy(config), schema)


_TYPE_NAMES = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
               "array": "a list", "object": "a mapping", "null": "null"}  # fmt: skip


def _rule(error) -> str:
    """The schema rule a value breaks, in words."""
    v, x = error.validator, error.validator_value
    if v == "type":
        names = [x] if isinstance(x, str) else x
        return "must be " + " or ".join(_TYPE_NAMES.get(n, n) for n in names)
    words = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    if v in words:
        return f"must be {words[v]} {x}"
    if v == "enum":
        return "must be one of " + ", ".join(map(str, x))
    if v == "minItems":
        return f"must have at least {x} item(s)"
    return error.message


def _path(error) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "config"


def validate(instance: dict, schema: dict, *, where: str = "") -> None:
    """Raise ConfigError with one clear line on the first value ``schema`` refuses.

    ``where`` prefixes key paths, for a section validated on its own (``"train"``).
    """
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    e = errors[0]
    path = ".".join(filter(None, [where, _path(e) if e.absolute_path else ""]))
    if e.validator == "additionalProperties":
        extra = sorted(set(e.instance) - set(e.schema.get("properties", {})))
        raise ConfigError(
            f"unknown config key {'.'.join(filter(None, [path, extra[0]]))!r}; "
            f"known keys here: {', '.join(sorted(e.schema.get('properties', {})))}"
        )
    raise ConfigError(f"config key {path or 'config'!r} = {e.instance!r}: {_rule(e)}")


def check(config: dict, schema: dict) -> dict:
    """Coerce, fill defaults and validate; raise ConfigError with one clear line on the first problem."""
    config = coerce(config, schema)
    validate(config, schema)
    fill_defaults(config, schema)
    _cross_checks(config)
    return config


def fill_defaults(config: dict, schema: dict) -> None:
    """Add the schema's default for every key ``config`` lacks, recursively (in place)."""
    for key, sub in schema.get("properties", {}).items():
        if key not in config and "default" in sub:
            config[key] = copy.deepcopy(sub["default"])
        if isinstance(config.get(key), dict):
            fill_defaults(config[key], sub)


def _cross_checks(config: dict) -> None:
    from .features import check_mel_params

    mel = config["mel"]
    try:
        check_mel_params(
            sample_rate=config["audio"]["sample_rate"], n_fft=mel["n_fft"], hop_length=mel["hop_length"],
            n_mels=mel["n_mels"], top_db=mel["top_db"], fmin=mel["fmin"], fmax=mel["fmax"],
        )  # fmt: skip
    except ValueError as exc:
        raise ConfigError(f"config section 'mel': {exc}") from None
    seg_samples = config["audio"]["segment_seconds"] * config["audio"]["sample_rate"]
    if seg_samples < mel["n_fft"]:
        raise ConfigError(
            f"config key 'audio.segment_seconds' = {config['audio']['segment_seconds']}: a segment of "
            f"{int(seg_samples)} samples is shorter than mel.n_fft = {mel['n_fft']}"
        )
