"""Which settings each rule of the workflow reads: the one map behind every rule's params.

Snakemake reruns a job when the ``repr`` of one of its params differs from the last run
(its ``params`` rerun trigger). Every rule's params are therefore built here, from
:data:`READS`: the config keys the rule's script reads, each handed over as a section of
its own (``umbrella.steps`` arrives as ``params.umbrella["steps"]``), and nothing else.
Values are canonical (:func:`canonical`): mappings with sorted keys, plain Python
numbers and lists, defaults resolved by the schema before this runs. So

- the order of the keys in a study file never reruns anything;
- a setting reruns exactly the rules that read it, and what is built on their outputs;
- an oracle or a collective variable hands over only the keys its ``kind`` reads
  (``oracle.basis`` of an EMT study reruns nothing).

Besides the settings handed over, a rule may take values computed from the config
(window grids, seeds, bin edges); the keys those come from are declared in
:data:`READS` too, after ``derived:``, so that the map says everything a rule depends
on. ``tests/test_rerun_scope.py`` flips every schema key of a study and checks the jobs
Snakemake reruns against this map.
"""

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# The keys an oracle of each kind reads (and, through dataset.explorer, an explorer).
ORACLE_KEYS: dict[str, tuple[str, ...]] = {
    "emt": (),
    "double_well_bond": ("barrier_ev", "r_mid", "half_width"),
    "xtb": ("method", "charge", "multiplicity", "electronic_temperature_k", "max_iterations"),
    "pyscf": ("method", "basis", "functional", "charge", "multiplicity", "max_iterations"),
    "ase": ("calculator", "parameters"),
}

# The keys a collective variable (or an observable) of each kind reads, besides atoms.
CV_KEYS: dict[str, tuple[str, ...]] = {
    "distance": ("minimum_image",),
    "position": ("axis",),
    "angle": (),
    "dihedral": (),
    "signed_volume": (),
    "difference_of_distances": (),
    "linear_combination": ("coefficients",),
    "coordination_number": ("other_atoms", "switching"),
    "path": (
        "images", "component", "lambda_per_a2", "align", "resample_images",
        "distance_wall_a2", "distance_wall_kj_mol", "reactant", "product", "build",
    ),
}  # fmt: skip
BUILT_PATH_KEYS = ("reactant", "product", "build")  # a path the workflow builds only
REFINE_DEFAULTS = {  # collective_variable.refine (mlpmf.pathstring.RefineSettings)
    "iterations": 0, "tolerance_a": 0.05, "steps": 2000, "equilibration_steps": 500,
    "move_fraction": 1.0, "smoothing": 0.1,
}  # fmt: skip
# The rules that run on the refined path, with collective_variable.refine: its images
# (refined_images_path) are their CV's, an input of theirs in place of the first path's.
ON_REFINED_PATH = ("umbrella_window", "transmission", "rates")
SWITCHING_DEFAULTS = {"r0_a": 1.5, "d0_a": 0.0, "n": 6, "m": 0}
BUILD_DEFAULTS = {  # collective_variable.build (mlpmf.pathbuild.PathBuildSettings)
    "images": 9, "candidates": 3, "perturbation_a": 0.3, "fmax_ev_a": 0.05,
    "max_steps": 500, "spring_ev_a2": 0.1,
}  # fmt: skip

WINDOW_MD = tuple(
    f"umbrella.{key}"
    for key in (
        "steps",
        "equilibration_steps",
        "timestep_fs",
        "friction_per_fs",
        "record_every",
        "precision",
        "exchange_every",
        "oracle_every",
    )
)
TRUST_LEVELS = tuple(
    f"active_learning.{key}"
    for key in (
        "force_disagreement_ev_a",
        "upper_disagreement_ev_a",
        "trigger_percentile",
        "trigger_factor",
        "upper_factor",
        "trigger_force_fraction",
    )
)
SAMPLES = ("free_energy.decorrelate", "free_energy.detect_equilibration")
# Keys after "2d:" count in 2D umbrella sampling only (umbrella.second_cv.observable
# set), after "adaptive:" with adaptive windows only, after "confirm:" only while
# active_learning.confirm_steps is null (it then takes a window's length), after "ase:"
# only where the user's calculators drive the windows (potential ase).
DATA_TEMPERATURE = (
    "temperature_k",
    "dataset.md_temperature_k",
    "dataset.md_steps",
    "dataset.scan_points",
    "dataset.scan_steps_per_point",
    "dataset.scan_temperature_k",
)
WINDOW_GRID = (
    "umbrella.centers",
    "umbrella.spring_constant_kj_mol",
    "umbrella.repeats",
    "2d:umbrella.second_cv",
    "2d:observables",
)
PERIODS = ("collective_variable", "2d:umbrella.second_cv.observable", "2d:observables")
PMF_BINS = ("free_energy.bins", *PERIODS)  # edges and periods of the PMF's bins
CONDITIONS = {
    "2d": lambda config: config["umbrella"]["second_cv"]["observable"] is not None,
    "adaptive": lambda config: config["umbrella"]["adaptive"]["enabled"],
    "confirm": lambda config: config["active_learning"]["confirm_steps"] is None,
    "ase": lambda config: config["potential"] == "ase",
    "built": lambda config: builds_path(config["collective_variable"]),
    "refined": lambda config: refines_path(config["collective_variable"]),
    "exact": lambda config: (
        config["oracle"]["kind"] == "double_well_bond"
        and config["collective_variable"]["kind"] == "distance"
    ),
}

READS: dict[str, dict[str, tuple[str, ...]]] = {
    # rule: {"given": keys handed over as params, "derived": keys its computed params
    # and its input files come from}
    "provenance": {"given": ("*",), "derived": ("seed",)},
    "build_path": {
        "given": (
            "system.fixed_atoms",
            "oracle",
            "built:collective_variable.build",  # reactant and product: its input files
        ),
        "derived": (
            "seed",
            "built:collective_variable.reactant",
            "built:collective_variable.product",
        ),
    },
    "refine_path": {
        "given": (
            "system",
            "potential",
            "ase:external_potential",
            "oracle",
            "collective_variable",
            "refined:collective_variable.refine",
            "temperature_k",
            "umbrella.timestep_fs",
            "umbrella.friction_per_fs",
            "umbrella.record_every",
            "umbrella.precision",
            "umbrella.exchange_every",
        ),
        "derived": ("seed", *WINDOW_GRID, *PMF_BINS, "umbrella.start_frames"),
    },
    "umbrella_windows": {"derived": (*WINDOW_GRID, "adaptive:umbrella.adaptive")},
    "sample_reference": {
        "given": ("system", "oracle", "collective_variable", "dataset", "temperature_k"),
        "derived": ("seed", "umbrella.centers"),  # the scan spans the window centres
    },
    "train_committee": {
        "given": ("descriptor", "committee", "temperature_k", *TRUST_LEVELS),
        "derived": ("seed", *DATA_TEMPERATURE),
    },
    "train_gaussian_process": {
        "given": ("descriptor", "gaussian_process"),
        "derived": ("seed",),
    },
    "active_learning": {
        "given": (
            "system",
            "oracle",
            "collective_variable",
            "temperature_k",
            "active_learning",
            "descriptor",
            "committee",
            "umbrella.timestep_fs",
            "umbrella.friction_per_fs",
            "umbrella.exchange_every",
        ),
        "derived": (
            "seed",
            *WINDOW_GRID,
            *DATA_TEMPERATURE,
            "confirm:umbrella.steps",
            "confirm:umbrella.equilibration_steps",
        ),
    },
    "plot_active_learning": {"given": ("collective_variable",)},
    "umbrella_window": {
        "given": (
            "system",
            "potential",
            "ase:external_potential",
            "oracle",
            "collective_variable",
            "observables",
            "temperature_k",
            *WINDOW_MD,
        ),
        "derived": (
            "seed",
            *WINDOW_GRID,
            "umbrella.windows_per_job",  # which windows a job integrates together
            "umbrella.start_frames",  # an input file
        ),
    },
    "window_series": {"derived": ("umbrella.windows_per_job",)},  # which batch file
    "adapt_windows": {
        "given": ("temperature_k", *SAMPLES, "free_energy.overlap_threshold"),
        "derived": (
            *PMF_BINS,
            *WINDOW_GRID,
            "umbrella.windows_per_job",
            "umbrella.adaptive",
        ),
    },
    "check_trust": {
        "given": (
            "potential",
            "accept_untrusted",
            "temperature_k",
            "umbrella.oracle_tolerance_kj_mol",
        ),
        "derived": PERIODS,
    },
    "mark_trust": {"derived": PERIODS},
    "trust_gate": {"derived": ("collective_variable",)},  # the CV's unit
    "estimate_pmf": {
        "given": (
            "temperature_k",
            *SAMPLES,
            "free_energy.bootstrap_samples",
            "free_energy.uncertainty",
        ),
        "derived": ("seed", *PMF_BINS),
    },
    "estimate_pmf_2d": {
        "given": ("temperature_k", *SAMPLES, "free_energy.bootstrap_samples", "rates"),
        "derived": ("seed", *PMF_BINS),
    },
    "diagnostics": {
        "given": ("temperature_k", *SAMPLES, "free_energy.overlap_threshold"),
        "derived": PMF_BINS,
    },
    "transmission": {
        "given": (
            "system",
            "potential",
            "ase:external_potential",
            "oracle",
            "collective_variable",
            "temperature_k",
            "umbrella.timestep_fs",
            "umbrella.friction_per_fs",
            "umbrella.precision",
            "rates",
            "transmission",
        ),
        "derived": ("seed", "umbrella.spring_constant_kj_mol", "umbrella.start_frames"),
    },
    "rates": {
        "given": (
            "temperature_k",
            "collective_variable",
            "rates",
            "umbrella.friction_per_fs",
            "reference.pmf_mirrored",
        ),
        "derived": ("system.structure", "reference.barrier_file", "reference.pmf_file"),  # files
    },
    "reweight_observable": {
        "given": ("temperature_k", *SAMPLES, "free_energy.bootstrap_samples"),
        "derived": ("seed", *PMF_BINS, "observables"),
    },
    "compare_pmf": {
        "given": (
            "free_energy.mirror_symmetric",
            "reference.pmf_mirrored",
            "reference.compare_below_kj_mol",
        ),
        "derived": ("reference.pmf_file",),  # an input file
    },
    "plot_pmf": {
        "given": ("temperature_k", "collective_variable", "reference.pmf_mirrored"),
        # the exact PMF of an analytic oracle; input files
        "derived": ("exact:oracle", "reference.pmf_file", "reference.barrier_file"),
    },
    "plot_pmf_2d": {
        "given": ("temperature_k", "collective_variable"),
        "derived": PERIODS,
    },
    "plot_model": {},
    "oracle_ledger": {
        "given": ("umbrella.steps", "umbrella.equilibration_steps", "umbrella.oracle_every"),
    },
}
"""Per rule: ``given``, the config keys handed over as params (a section name: all of
it; ``*``: the whole study config), and ``derived``, the keys the rule's computed
params (seeds, window grids, bin edges, periods) and its input files come from."""

NOT_SETTINGS = frozenset({"device", "validation"})  # change no result


def canonical(value: Any) -> Any:
    """``value`` as plain, ordered data: mappings with sorted string keys, sequences as
    lists, NumPy scalars and arrays as Python numbers and lists, -0.0 as 0.0. Two values
    that mean the same give the same ``repr``."""
    if isinstance(value, Mapping):
        return {str(k): canonical(value[k]) for k in sorted(value, key=str)}
    if hasattr(value, "tolist"):  # NumPy arrays and scalars
        return canonical(value.tolist())
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, float):
        return value + 0.0
    return value


def oracle_settings(settings: Mapping) -> dict:
    """An oracle block with only the keys its kind reads."""
    kind = settings["kind"]
    return canonical(
        {"kind": kind, **{key: settings.get(key) for key in ORACLE_KEYS.get(kind, ())}}
    )


def cv_settings(settings: Mapping) -> dict:
    """A collective-variable (or observable) block with only the keys its kind reads
    (an observable keeps its bins)."""
    kind = settings["kind"]
    kept = {"kind": kind, "atoms": settings["atoms"]}
    for key in CV_KEYS.get(kind, ()):
        if key == "switching":
            kept[key] = {**SWITCHING_DEFAULTS, **settings.get(key, {})}
        elif key in settings:
            kept[key] = settings[key]
    if "bins" in settings:
        kept["bins"] = settings["bins"]
    if kind == "path" and builds_path(settings):  # rule build_path's output, an input
        kept["build"] = {**BUILD_DEFAULTS, **kept.get("build", {})}
    elif kind == "path":
        kept = {key: value for key, value in kept.items() if key not in BUILT_PATH_KEYS}
        if Path(kept.get("images") or "").is_file():
            digest = hashlib.sha256(Path(kept["images"]).read_bytes()).hexdigest()
            kept["images_sha256"] = digest
    return canonical(kept)


def refine_settings(cv: Mapping) -> dict:
    """``collective_variable.refine`` with its defaults (:data:`REFINE_DEFAULTS`)."""
    return canonical({**REFINE_DEFAULTS, **(cv.get("refine") or {})})


def refines_path(cv: Mapping) -> bool:
    """True for a path CV along its progress whose images the workflow refines at
    temperature before the windows (``refine.iterations`` > 0; rule refine_path)."""
    return (
        cv.get("kind") == "path"
        and cv.get("component", "progress") == "progress"
        and refine_settings(cv)["iterations"] > 0
    )


def refined_images_path(study: str) -> str:
    """Where rule ``refine_path`` writes the refined path's images."""
    return f"results/{study}/path/refined.extxyz"


def builds_path(cv: Mapping) -> bool:
    """True for a path CV the workflow builds (``product`` named, no ``images`` of the
    user's; mlpmf.pathstudy)."""
    return cv.get("kind") == "path" and bool(cv.get("product"))


def explorer_of(config: Mapping) -> dict | None:
    """The settings of ``dataset.explorer`` as the explorer reads them: the oracle's
    block with the explorer's own keys on top, only those its kind reads; None when the
    oracle explores itself."""
    explorer = config.get("dataset", {}).get("explorer") or {}
    if explorer.get("kind") is None:
        return None
    reset = {"method": None, "calculator": None, "parameters": {}}
    given = {key: value for key, value in explorer.items() if value is not None}
    return oracle_settings({**config["oracle"], **reset, **given})


def effective_section(config: Mapping, section: str, bins: bool = False) -> Any:
    """A top-level section as the rules read it: oracle and CVs reduced to their kind's
    keys, ``dataset.explorer`` resolved against the oracle, ``external_potential`` only
    when it drives the windows; observables without their bins unless ``bins`` (the
    windows record an observable, only its reweighting bins it)."""
    value = config[section]
    if section == "oracle":
        return oracle_settings(value)
    if section == "collective_variable":
        return cv_settings(value)
    if section == "observables":
        specs = {name: cv_settings(spec) for name, spec in value.items()}
        return (
            specs
            if bins
            else {n: {k: v for k, v in s.items() if k != "bins"} for n, s in specs.items()}
        )
    if section == "external_potential":
        return canonical(value if config.get("potential") == "ase" else [])
    if section == "dataset":
        return canonical({**value, "explorer": explorer_of(config)})
    return canonical(value)


def _declared(rule: str, part: str) -> tuple[str, ...]:
    try:
        return READS[rule].get(part, ())
    except KeyError:
        raise KeyError(f"rule {rule!r} is not in mlpmf.scope.READS") from None


def rule_settings(config: Mapping, rule: str) -> dict:
    """The settings ``rule`` is given, as params: ``{section: value}`` for every key of
    ``READS[rule]["given"]`` (a dotted key gives its section with that key only)."""
    given = _declared(rule, "given")
    if given == ("*",):
        return effective_config(config)
    params: dict[str, Any] = {}
    for key in given:
        key = key.rpartition(":")[2]  # a condition decides what the test expects, not this
        section, _, name = key.partition(".")
        if key == "collective_variable.refine":
            params.setdefault(section, {})[name] = refine_settings(config[section])
        elif not name:
            params[section] = effective_section(config, section)
        else:
            params.setdefault(section, {})[name] = canonical(config[section][name])
    if rule in ON_REFINED_PATH and refines_path(config["collective_variable"]):
        params["collective_variable"]["images"] = refined_images_path(config["study"])
    return canonical(params)


def effective_config(config: Mapping) -> dict:
    """The whole study config as the rules read it (what provenance records): every
    section reduced as :func:`effective_section` does, without settings that never
    change a result (:data:`NOT_SETTINGS`)."""
    return canonical(
        {
            section: effective_section(config, section, bins=True)
            for section in config
            if section not in NOT_SETTINGS
            and not section.startswith("report_")
            and not (section == "external_potential" and config.get("potential") != "ase")
        }
    )


def reads(config: Mapping, rule: str) -> set[str]:
    """The dotted leaf keys of the (effective) config that ``rule`` depends on, given or
    derived (a key with a condition only where it holds): what a change of reruns."""
    if _declared(rule, "given") == ("*",):
        return set(leaf_keys(effective_config(config)))
    found: set[str] = set()
    declared = [(key, False) for key in _declared(rule, "given")]
    declared += [(key, True) for key in _declared(rule, "derived")]  # observables' bins too
    for key, bins in declared:
        condition, _, key = key.rpartition(":")
        if condition and not CONDITIONS[condition](config):
            continue
        section, _, rest = key.partition(".")
        value = effective_section(config, section, bins)
        for part in rest.split(".") if rest else ():
            value = value[part]
        found.update(leaf_keys(value, key))
    return found


def leaf_keys(value: Any, prefix: str = "") -> list[str]:
    """Dotted keys of the leaves of nested mappings (a list, None or an empty mapping
    is a leaf)."""
    if not isinstance(value, Mapping) or not value:
        return [prefix] if prefix else []
    keys = []
    for name, item in value.items():
        keys += leaf_keys(item, f"{prefix}.{name}" if prefix else str(name))
    return keys


def rules_reading(config: Mapping, key: str, rules: Sequence[str]) -> set[str]:
    """Of ``rules``, those that read the dotted config ``key`` (or a key under it)."""
    return {
        rule
        for rule in rules
        if any(leaf == key or leaf.startswith(key + ".") for leaf in reads(config, rule))
    }
