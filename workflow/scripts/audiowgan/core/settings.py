"""Typed settings: one small frozen dataclass per config section, built once from the validated config.

The schema (``workflow/schemas/config.schema.yaml``) stays the one source of keys, defaults and
bounds. Each class names its section; its fields are exactly that section's keys (a test checks),
and :meth:`Spec.from_mapping` converts strings the way ``--config`` hands them over, validates
against the section's schema, refuses unknown keys and fills what is missing from the schema's
defaults (with the helpers :func:`coerce`, :func:`validate` and :func:`fill_defaults` that
``config.check`` also uses for the whole config). So the library receives ``TrainSpec(...).batch_size`` as an ``int``, never a string, and
never needs a cast. Lists become tuples (the classes are frozen and hashable); :meth:`Spec.to_dict`
gives plain JSON-ready values back (for ``params:``, model.json and fingerprints).

Nothing here imports numpy or TensorFlow.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self


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


_TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


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


# Keys a config written for an earlier version may still hold, with what replaced them.
RENAMED = {
    "audio.segment_hop_seconds": "'audio.segment_overlap', a share of the segment: 1 - hop / segment_seconds "
    "(null, side by side, is 0; half a segment is 0.5)",
}


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
        key = ".".join(filter(None, [path, extra[0]]))
        if key in RENAMED:
            raise ConfigError(f"config key {key!r} is now {RENAMED[key]}")
        raise ConfigError(
            f"unknown config key {key!r}; known keys here: {', '.join(sorted(e.schema.get('properties', {})))}"
        )
    raise ConfigError(f"config key {path or 'config'!r} = {e.instance!r}: {_rule(e)}")


def fill_defaults(config: dict, schema: dict) -> None:
    """Add the schema's default for every key ``config`` lacks, recursively (in place)."""
    for key, sub in schema.get("properties", {}).items():
        if key not in config and "default" in sub:
            config[key] = copy.deepcopy(sub["default"])
        if isinstance(config.get(key), dict):
            fill_defaults(config[key], sub)


SCHEMA_PATH = Path(__file__).resolve().parents[3] / "schemas" / "config.schema.yaml"


@functools.cache
def schema() -> dict:
    """The config schema (read once per process)."""
    import yaml

    return yaml.safe_load(SCHEMA_PATH.read_text())


def segment_samples(segment_seconds: float, sample_rate: int) -> int:
    """Samples in one segment: the one place this rounding is done."""
    return int(round(float(segment_seconds) * int(sample_rate)))


class Spec:
    """Base of the section classes: construction from a mapping, back to a dict."""

    SECTION: ClassVar[str]  # its path in the config, dotted for a nested section
    NESTED: ClassVar[dict[str, type[Spec]]] = {}  # fields that are sections of their own

    @classmethod
    def section_schema(cls) -> dict:
        sub = schema()
        for key in cls.SECTION.split("."):
            sub = sub["properties"][key]
        return sub

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None = None, /, **overrides: Any) -> Self:
        """Coerce, validate and complete ``values`` (plus ``overrides``) with the schema's defaults."""
        sub = cls.section_schema()
        raw = coerce({**(values or {}), **overrides}, sub)
        validate(raw, sub, where=cls.SECTION)
        fill_defaults(raw, sub)
        nested = {k: c.from_mapping(raw.pop(k, {})) for k, c in cls.NESTED.items()}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}, **nested)

    @classmethod
    def coerce(cls, value: Self | Mapping[str, Any]) -> Self:
        """``value`` itself if it is already this class, else :meth:`from_mapping` of it."""
        return value if isinstance(value, cls) else cls.from_mapping(value)

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> Self:
        """The section's keys picked out of a larger record (a dataset's meta.json, model.json)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls.from_mapping({k: v for k, v in meta.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {
            k: v.to_dict() if isinstance(v, Spec) else list(v) if isinstance(v, tuple) else v for k, v in out.items()
        }


@dataclass(frozen=True)
class DownloadSpec(Spec):
    SECTION: ClassVar[str] = "download"
    retries: int
    backoff_seconds: float


@dataclass(frozen=True)
class AudioSpec(Spec):
    SECTION: ClassVar[str] = "audio"
    sample_rate: int
    segment_seconds: float
    segment_overlap: float
    silence_threshold_db: float

    def __post_init__(self) -> None:
        """The rule the schema cannot state: consecutive segments start at least one sample apart."""
        if self.hop_samples < 1:
            raise ConfigError(
                f"config key 'audio.segment_overlap' = {self.segment_overlap!r}: leaves less than one sample between "
                f"segment starts ({self.segment_seconds!r} s segments at {self.sample_rate} Hz)"
            )

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> Self:
        """As :meth:`Spec.from_meta`; a record written before the overlap was a share of the segment has
        ``segment_hop_seconds`` instead (null: side by side)."""
        if "segment_overlap" not in meta and "segment_seconds" in meta:
            hop = meta.get("segment_hop_seconds") or meta["segment_seconds"]
            meta = {**meta, "segment_overlap": 1.0 - float(hop) / float(meta["segment_seconds"])}
        return super().from_meta(meta)

    @property
    def segment_samples(self) -> int:
        return segment_samples(self.segment_seconds, self.sample_rate)

    @property
    def hop_samples(self) -> int:
        """Samples from one segment's start to the next's: the segment less the share it gives the next."""
        return int(round(self.segment_samples * (1.0 - float(self.segment_overlap))))

    @property
    def hop_seconds(self) -> float:
        """Seconds between segment starts (``segment_seconds`` when side by side): segment k starts at k hops."""
        return self.hop_samples / self.sample_rate

    @property
    def span_hops(self) -> int:
        """Segments whose numbers differ by less than this share samples (1 when side by side)."""
        return -(-self.segment_samples // self.hop_samples)


@dataclass(frozen=True)
class MelSpec(Spec):
    SECTION: ClassVar[str] = "mel"
    n_fft: int
    hop_length: int
    n_mels: int
    top_db: float
    fmin: float
    fmax: float | None

    def stft_args(self) -> dict[str, Any]:
        """The keyword arguments of the STFT/mel functions (``features.mel``, ``inversion.mel_to_audio``)."""
        return {
            "n_fft": self.n_fft,
            "hop_length": self.hop_length,
            "n_mels": self.n_mels,
            "fmin": self.fmin,
            "fmax": self.fmax,
        }


@dataclass(frozen=True)
class ModelSpec(Spec):
    SECTION: ClassVar[str] = "model"
    noise_dim: int
    generator_channels: tuple[int, ...]
    critic_channels: tuple[int, ...]
    kind: str
    generator_kernel_size: int
    critic_kernel_size: int
    upsample: str
    critic_band_norm: bool
    critic_minibatch_std: int
    critic_clip_stats: bool
    generator_peak_norm: bool
    generator_self_modulation: bool
    band_position: bool
    # Keys added on 2026-12-05 and their off values: what a model.json or a checkpoint written before them had.
    # Off, they are left out of checkpoint fingerprints (nn.state.fingerprint), so those checkpoints still resume.
    ADDED_OFF: ClassVar[dict[str, Any]] = {
        "critic_minibatch_std": 0,
        "critic_clip_stats": False,
        "generator_peak_norm": False,
        "generator_self_modulation": False,
        "band_position": False,
    }

    def __post_init__(self) -> None:
        """The rule the schema cannot state: the band position is for 2-D networks (conv1d's bands are channels).

        Here, every path meets it: the config check before any job runs, and a library call that builds networks.
        """
        if self.kind == "conv1d" and self.band_position:
            raise ConfigError(
                "config key 'model.band_position' = True is for model.kind conv2d: "
                "conv1d networks see each band as a channel"
            )

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> Self:
        """As :meth:`Spec.from_meta`; a model.json written before the two kernel sizes were separate has one
        ``kernel_size`` for both networks, and 2-D networks; one written before ``critic_band_norm`` existed
        has the plain critic, whatever the default is now, and one written before an ``ADDED_OFF`` key has
        that key off (no minibatch standard deviation, no clip statistics, the plain tanh output)."""
        if "kernel_size" in meta and "generator_kernel_size" not in meta:
            k = meta["kernel_size"]
            meta = {**meta, "generator_kernel_size": k, "critic_kernel_size": k, "kind": meta.get("kind", "conv2d")}
        return super().from_meta({"critic_band_norm": False, **cls.ADDED_OFF, **meta})


def _divisors(n: int) -> list[int]:
    return [k for k in range(1, n + 1) if n % k == 0]


@dataclass(frozen=True)
class TrainSpec(Spec):
    SECTION: ClassVar[str] = "train"
    epochs: int
    batch_size: int
    d_steps: int
    gp_weight: float
    gp_every: int
    learning_rate: float
    critic_learning_rate: float | None
    beta_1: float
    beta_2: float
    seed: int
    checkpoint_every: int
    mixed_precision: bool
    xla: bool
    require_gpu: bool
    tensorboard: bool
    tensorboard_image_every: int
    ema_decay: float
    init_from: str | None
    augment: float
    mode_seeking: float

    # May change between runs of one training: a checkpoint made with other values is resumed.
    NOT_FINGERPRINTED: ClassVar[tuple[str, ...]] = (
        "epochs",
        "checkpoint_every",
        "tensorboard",
        "tensorboard_image_every",
        "require_gpu",
        # The folder's weights are fingerprinted instead (nn.warm_start): a path says nothing of what it holds.
        "init_from",
    )
    # Keys added since checkpoints were first written, and their off values (as ModelSpec.ADDED_OFF): off, they
    # are left out of checkpoint fingerprints, so checkpoints written before them still resume.
    ADDED_OFF: ClassVar[dict[str, Any]] = {"gp_every": 1, "critic_learning_rate": None, "mode_seeking": 0.0}

    def __post_init__(self) -> None:
        """The rule the schema cannot state: the penalty's interval divides the critic updates of a step, so every
        step penalises alike and its last critic update (the one losses.csv shows) is always penalised."""
        if self.d_steps % self.gp_every:
            raise ConfigError(
                f"config key 'train.gp_every' = {self.gp_every} must divide train.d_steps = {self.d_steps} "
                f"(the critic updates of one step): try {', '.join(str(k) for k in _divisors(self.d_steps))}"
            )
        if self.mode_seeking > 0 and self.batch_size < 2:
            raise ConfigError(
                f"config key 'train.mode_seeking' = {self.mode_seeking} compares the two halves of a batch: it needs "
                f"train.batch_size 2 or more, not {self.batch_size} (or set it to 0)"
            )


@dataclass(frozen=True)
class LongformSpec(Spec):
    SECTION: ClassVar[str] = "generate.longform"
    n: int
    seconds: float
    overlap_seconds: float
    anchor_seconds: float
    seed: int


@dataclass(frozen=True)
class GenerateSpec(Spec):
    SECTION: ClassVar[str] = "generate"
    NESTED: ClassVar[dict[str, type[Spec]]] = {"longform": LongformSpec}
    n_clips: int
    griffin_lim_iters: int
    inversion: str
    weights: str
    seed: int
    temperature: float
    target_dbfs: float
    formats: tuple[str, ...]
    longform: LongformSpec


@dataclass(frozen=True)
class EvaluateSpec(Spec):
    SECTION: ClassVar[str] = "evaluate"
    holdout_fraction: float
    holdout_by: str
    seed: int
    round_trip_segments: int
    perceptual: bool
    copy_quantile: float


SECTIONS: tuple[type[Spec], ...] = (DownloadSpec, AudioSpec, MelSpec, ModelSpec, TrainSpec, GenerateSpec, EvaluateSpec)
