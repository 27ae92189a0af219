"""Typed settings of the workflow's stages: frozen dataclasses built from a validated
config section, holding exactly the keys a stage reads.

The schema (``workflow/schemas/config.schema.yaml``) stays the single source of defaults:
a stage builds its settings with ``from_config`` from the section as validated (defaults
filled in); the dataclass defaults serve library callers and must equal the schema's
(``tests/test_config_validation.py``).
"""

import dataclasses
from collections.abc import Mapping


def settings_values(settings_class, section: Mapping, exclude: frozenset = frozenset()) -> dict:
    """The keys of a config ``section`` that are fields of the settings dataclass (the
    section may hold keys other settings read)."""
    names = {f.name for f in dataclasses.fields(settings_class)} - exclude
    return {key: value for key, value in section.items() if key in names}


@dataclasses.dataclass(frozen=True)
class WindowSettings:
    """The MD every umbrella window shares (the config's ``umbrella`` section without
    the per-window centres and spring constants and the batching)."""

    steps: int = 5000  # production
    equilibration_steps: int = 1000
    timestep_fs: float = 2.0
    friction_per_fs: float = 0.01
    record_every: int = 2  # steps between recorded frames
    precision: str = "float64"  # of the committee's forward pass
    exchange_every: int = 0  # steps between replica-exchange attempts; 0: none
    oracle_every: int = 0  # production steps between oracle labels of a window; 0: none

    @classmethod
    def from_config(cls, section: Mapping) -> "WindowSettings":
        return cls(**settings_values(cls, section))


@dataclasses.dataclass(frozen=True)
class FreeEnergySettings:
    """How the windows' samples become a PMF (the config's ``free_energy`` section
    without the bins)."""

    decorrelate: bool = True  # keep every g-th sample (statistical inefficiency g)
    detect_equilibration: bool = True  # drop each window's start (Chodera 2016)
    uncertainty: str = "analytical"  # or "bootstrap"
    bootstrap_samples: int = 100
    overlap_threshold: float = 0.03  # neighbour overlap below which diagnostics warn
    mirror_symmetric: bool = False  # F(x) = F(-x) is checked

    @classmethod
    def from_config(cls, section: Mapping) -> "FreeEnergySettings":
        return cls(**settings_values(cls, section))
