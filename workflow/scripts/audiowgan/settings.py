"""Typed settings: one small frozen dataclass per config section, built once from the validated config.

The schema (``workflow/schemas/config.schema.yaml``) stays the one source of keys, defaults and
bounds. Each class names its section; its fields are exactly that section's keys (a test checks),
and :meth:`Spec.from_mapping` converts strings the way ``--config`` hands them over, validates
against the section's schema, refuses unknown keys and fills what is missing from the schema's
defaults. So the library receives ``TrainSpec(...).batch_size`` as an ``int``, never a string, and
never needs a cast. Lists become tuples (the classes are frozen and hashable); :meth:`Spec.to_dict`
gives plain JSON-ready values back (for ``params:``, model.json and fingerprints).

Nothing here imports numpy or TensorFlow.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

from . import config as _config

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


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

    SECTION: ClassVar[str]

    @classmethod
    def section_schema(cls) -> dict:
        return schema()["properties"][cls.SECTION]

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None = None, /, **overrides: Any) -> Self:
        """Coerce, validate and complete ``values`` (plus ``overrides``) with the schema's defaults."""
        sub = cls.section_schema()
        raw = _config.coerce({**(values or {}), **overrides}, sub)
        _config.validate(raw, sub, where=cls.SECTION)
        _config.fill_defaults(raw, sub)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})

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
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def replace(self, **changes: Any) -> Self:
        return type(self).from_mapping(self.to_dict(), **changes)


@dataclass(frozen=True)
class AudioSpec(Spec):
    SECTION: ClassVar[str] = "audio"
    sample_rate: int
    segment_seconds: float
    silence_threshold_db: float

    @property
    def segment_samples(self) -> int:
        return segment_samples(self.segment_seconds, self.sample_rate)


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
        return {"n_fft": self.n_fft, "hop_length": self.hop_length, "n_mels": self.n_mels, "fmin": self.fmin,
                "fmax": self.fmax}  # fmt: skip


@dataclass(frozen=True)
class ModelSpec(Spec):
    SECTION: ClassVar[str] = "model"
    noise_dim: int
    generator_channels: tuple[int, ...]
    critic_channels: tuple[int, ...]
    kernel_size: int


@dataclass(frozen=True)
class TrainSpec(Spec):
    SECTION: ClassVar[str] = "train"
    epochs: int
    batch_size: int
    d_steps: int
    gp_weight: float
    learning_rate: float
    beta_1: float
    beta_2: float
    seed: int
    checkpoint_every: int
    mixed_precision: bool
    xla: bool

    # May change between runs of one training: a checkpoint made with other values is resumed.
    NOT_FINGERPRINTED: ClassVar[tuple[str, ...]] = ("epochs", "checkpoint_every")


@dataclass(frozen=True)
class GenerateSpec(Spec):
    SECTION: ClassVar[str] = "generate"
    n_clips: int
    griffin_lim_iters: int
    inversion: str
    seed: int
    target_dbfs: float


@dataclass(frozen=True)
class EvaluateSpec(Spec):
    SECTION: ClassVar[str] = "evaluate"
    holdout_fraction: float
    seed: int
    round_trip_segments: int


SECTIONS: tuple[type[Spec], ...] = (AudioSpec, MelSpec, ModelSpec, TrainSpec, GenerateSpec, EvaluateSpec)
