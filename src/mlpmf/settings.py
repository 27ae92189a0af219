"""Typed settings of the workflow's stages: frozen dataclasses built from a validated
config section, holding exactly the keys a stage reads.

The schema (``workflow/schemas/config.schema.yaml``) stays the single source of defaults:
a stage builds its settings with ``from_config`` from the section as validated (defaults
filled in); the dataclass defaults serve library callers and must equal the schema's
(``tests/test_config_validation.py``).
"""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass


def settings_values(settings_class, section: Mapping, exclude: frozenset = frozenset()) -> dict:
    """The keys of a config ``section`` that are fields of the settings dataclass (the
    section may hold keys other settings read)."""
    names = {f.name for f in dataclasses.fields(settings_class)} - exclude
    return {key: value for key, value in section.items() if key in names}


class Section:
    """What every settings class shares: it is built from its config section (the
    section's keys that are its fields; the section may hold keys others read), and a
    library function that takes it accepts the section's mapping too (:meth:`of`)."""

    @classmethod
    def from_config(cls, section: Mapping):
        return cls(**settings_values(cls, section))

    @classmethod
    def of(cls, value):
        """``value`` if it is one already, else built from a config mapping."""
        return value if isinstance(value, cls) else cls.from_config(value)


@dataclasses.dataclass(frozen=True)
class WindowSettings(Section):
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


@dataclasses.dataclass(frozen=True)
class FreeEnergySettings(Section):
    """How the windows' samples become a PMF (the config's ``free_energy`` section
    without the bins)."""

    decorrelate: bool = True  # keep every g-th sample (statistical inefficiency g)
    detect_equilibration: bool = True  # drop each window's start (Chodera 2016)
    uncertainty: str = "analytical"  # or "bootstrap"
    bootstrap_samples: int = 100
    overlap_threshold: float = 0.03  # neighbour overlap below which diagnostics warn
    mirror_symmetric: bool = False  # F(x) = F(-x) is checked


@dataclass(frozen=True)
class TrustSettings(Section):
    """How the trust levels are set (the config's ``active_learning`` keys)."""

    lower_ev_a: float | None = None  # explicit lower level (the trigger); None: calibrate
    upper_ev_a: float | None = None  # explicit upper level; None: upper_factor x lower
    percentile: float = 95.0  # of the held-out per-frame disagreement
    factor: float = 2.0  # margin on that percentile
    upper_factor: float = 3.0  # upper level over lower level
    force_fraction: float = 0.5  # lower level at least this times the thermal force scale

    @classmethod
    def from_config(cls, section: Mapping) -> "TrustSettings":
        return cls(
            section["force_disagreement_ev_a"],
            section["upper_disagreement_ev_a"],
            section["trigger_percentile"],
            section["trigger_factor"],
            section["upper_factor"],
            section["trigger_force_fraction"],
        )


@dataclass(frozen=True)
class ActiveLearningSettings(Section):
    """The config's ``active_learning`` section (temperature in K)."""

    max_iterations: int = 5  # on for a committee; 0 switches it off
    frames_per_iteration: int = 12
    steps_per_iteration: int = 2000
    confirm_steps: int = 0  # a quiet round ends the loop only after this many quiet steps
    converged_fraction: float = 0.01  # of checked frames above the trigger, in a quiet round
    check_every: int = 20
    temperature_k: float | None = None  # None: the study's
    retrain_epochs: int = 60
    trust: TrustSettings = TrustSettings()

    @classmethod
    def from_config(cls, section: Mapping) -> "ActiveLearningSettings":
        values = settings_values(cls, section, exclude=frozenset({"trust"}))
        return cls(**values, trust=TrustSettings.from_config(section))


@dataclass(frozen=True)
class DatasetSettings(Section):
    """The config's ``dataset`` section (temperatures in K, times in fs)."""

    md_temperature_k: float = 600.0
    md_steps: int = 2000
    scan_points: int = 16
    scan_relax_steps: int = 50
    scan_equilibration_steps: int = 200
    scan_steps_per_point: int = 200
    scan_temperature_k: float = 450.0
    scan_spring_constant_kj_mol: float = 200.0
    scan_both_ways: bool = False
    timestep_fs: float = 2.0
    friction_per_fs: float = 0.01
    record_every: int = 10
    test_fraction: float = 0.2
    max_energy_above_minimum_kt: float | None = None


@dataclass(frozen=True)
class CommitteeSettings(Section):
    """The config's ``committee`` section: size, networks and training."""

    members: int = 4
    hidden_layers: tuple[int, ...] = (32, 32)
    epochs: int = 200
    batch_size: int = 4  # frames per optimiser step
    learning_rate: float = 0.005
    final_learning_rate: float = 0.0001
    energy_weight: float = 1.0  # of (eV/atom)^2
    force_weight: float = 1.0  # of (eV/Å)^2
    validation_fraction: float = 0.1
    patience_epochs: int = 50
    bootstrap: bool = False

    @classmethod
    def from_config(cls, section: Mapping) -> "CommitteeSettings":
        values = settings_values(cls, section)
        if "hidden_layers" in values:
            values["hidden_layers"] = tuple(int(h) for h in values["hidden_layers"])
        return cls(**values)

    def replace(self, **changes) -> "CommitteeSettings":
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class TransmissionSettings(Section):
    """The config's ``transmission`` section."""

    enabled: bool = False
    shots: int = 64  # dividing-surface configurations, each shot forward and backward
    shot_length_fs: float = 500.0
    friction_per_fs: float | None = None  # of the shots' Langevin dynamics; None: windows'
    restraint_kj_mol: float | None = None  # per CV unit^2; None: 10 x the windows'
    equilibration_steps: int = 1000  # restrained MD before a configuration is taken
    bootstrap_samples: int = 200


@dataclass(frozen=True)
class SystemSettings(Section):
    """The config's ``system`` section: the starting structure and the atoms held fixed."""

    structure: str = ""  # any file ASE reads
    fixed_atoms: tuple[int, ...] = ()  # besides FixAtoms constraints in the file

    @classmethod
    def from_config(cls, section: Mapping) -> "SystemSettings":
        values = settings_values(cls, section)
        if "fixed_atoms" in values:
            values["fixed_atoms"] = tuple(int(a) for a in values["fixed_atoms"])
        return cls(**values)


@dataclass(frozen=True)
class OracleSettings(Section):
    """The config's ``oracle`` section (each kind reads its own keys, mlpmf.scope.ORACLE_KEYS;
    the others keep their defaults)."""

    kind: str = "emt"  # emt, double_well_bond, xtb, pyscf or ase
    method: str | None = None  # xtb: GFN2-xTB by default; pyscf: hf or dft
    charge: int = 0
    multiplicity: int = 1
    electronic_temperature_k: float = 300.0  # xtb
    max_iterations: int = 250  # SCF cycles
    basis: str = "6-31g*"  # pyscf
    functional: str = "pbe"  # pyscf, method dft
    barrier_ev: float = 0.15  # double_well_bond
    r_mid: float = 3.2  # double_well_bond, Å
    half_width: float = 0.45  # double_well_bond, Å
    calculator: str | None = None  # ase: "package.module:Class"
    parameters: Mapping = dataclasses.field(default_factory=dict)  # ase: its keyword arguments

    @classmethod
    def from_config(cls, section: Mapping) -> "OracleSettings":
        values = {k: v for k, v in settings_values(cls, section).items() if v is not None}
        if "parameters" in values:
            values["parameters"] = dict(values["parameters"])
        return cls(**values)


@dataclass(frozen=True)
class ColvarSettings(Section):
    """The config's ``collective_variable`` section, or one ``observables`` entry (with
    its bins); each kind reads its own keys (mlpmf.scope.CV_KEYS)."""

    kind: str = "distance"
    atoms: tuple[int, ...] = (0, 1)  # 0-based
    axis: str = "x"  # position
    minimum_image: bool = False  # distance
    coefficients: tuple[float, ...] = ()  # linear_combination, one per atom pair
    other_atoms: tuple[int, ...] = ()  # coordination_number's second group
    switching: Mapping = dataclasses.field(default_factory=dict)  # coordination_number
    images: str = ""  # path: the file of the path's images
    component: str = "progress"  # path: progress s or distance z
    lambda_per_a2: float | None = None  # path: None, from the images' spacing
    align: bool = True  # path: superpose before comparing
    resample_images: int = 0  # path: evenly spaced images; 0, as given
    distance_wall_a2: float | None = None  # path: upper wall on z, Å²; None: no wall
    distance_wall_kj_mol: float = 1000.0  # path: its spring, kJ/mol per Å⁴
    reactant: str = ""  # path: the reactant structure of a path the workflow builds
    product: str = ""  # path: the product structure; named, the workflow builds the path
    build: Mapping = dataclasses.field(default_factory=dict)  # path: how (PathBuildSettings)
    refine: Mapping = dataclasses.field(default_factory=dict)  # path: at temperature (pathstring)
    bins: Mapping | None = None  # an observable's {start, stop, num}

    @classmethod
    def from_config(cls, section: Mapping) -> "ColvarSettings":
        values = settings_values(cls, section)
        for key, kind in (("atoms", int), ("other_atoms", int), ("coefficients", float)):
            if key in values:
                values[key] = tuple(kind(v) for v in values[key])
        for key in ("switching", "bins", "build", "refine"):
            if values.get(key) is not None:
                values[key] = dict(values[key])
        return cls(**values)


@dataclass(frozen=True)
class DescriptorSettings(Section):
    """The config's ``descriptor`` section: the atom-centred descriptor's terms (lengths
    in Å; the defaults are ANI-1x's angular terms)."""

    num_radial: int = 16
    cutoff_a: float = 5.2
    angular_cutoff_a: float = 3.5
    num_angular_shifts: int = 4
    num_angular_sections: int = 8  # 0: radial only
    angular_zeta: float = 32.0
    angular_eta_per_a2: float = 8.0
    num_chiral: int = 0  # Gaussians of the chiral signed-volume channel


@dataclass(frozen=True)
class BasinSettings(Section):
    """The config's ``rates`` section: the reactant's and product's CV intervals."""

    reactant: tuple[float, float] = (2.5, 3.0)
    product: tuple[float, float] = (3.4, 3.9)

    @classmethod
    def from_config(cls, section: Mapping) -> "BasinSettings":
        values = settings_values(cls, section)
        return cls(**{key: tuple(float(v) for v in pair) for key, pair in values.items()})


@dataclass(frozen=True)
class GaussianProcessSettings(Section):
    """The config's ``gaussian_process`` section: the sparse GP baseline."""

    inducing_atoms: int = 200  # drawn at random (by the seed) from the data's atoms
    length_scale: float | None = None  # standardised descriptor units; None: the median
    # distance between inducing atoms
    energy_noise_ev_per_atom: float = 0.002
    force_noise_ev_a: float = 0.03
