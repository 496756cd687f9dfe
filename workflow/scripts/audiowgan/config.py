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


def check(config: dict, schema: dict) -> dict:
    """Coerce, fill defaults and validate; raise ConfigError with one clear line on the first problem."""
    import jsonschema

    config = coerce(config, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        if e.validator == "additionalProperties":
            extra = sorted(set(e.instance) - set(e.schema.get("properties", {})))
            where = _path(e)
            raise ConfigError(
                f"unknown config key {'.'.join(filter(None, [where if where != 'config' else '', extra[0]]))!r}; "
                f"known keys here: {', '.join(sorted(e.schema.get('properties', {})))}"
            )
        raise ConfigError(f"config key {_path(e)!r} = {e.instance!r}: {_rule(e)}")
    _fill_defaults(config, schema)
    _cross_checks(config)
    return config


def _fill_defaults(config: dict, schema: dict) -> None:
    for key, sub in schema.get("properties", {}).items():
        if key not in config and "default" in sub:
            config[key] = copy.deepcopy(sub["default"])
        if isinstance(config.get(key), dict):
            _fill_defaults(config[key], sub)


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
