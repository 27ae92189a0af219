"""A study whose collective variable is a path built from two structures: what the
workflow fills in before the schema checks the study file (:func:`complete_path_study`),
so that a study naming only its system, oracle, end structures and temperature runs.

With ``collective_variable: {kind: path, product: B.xyz}`` (``reactant`` defaults to
``system.structure``), rule ``build_path`` writes the path's images to
:func:`images_path`; the CV's ``images`` points there. The path is carried one image
past each relaxed end (:func:`mlpmf.pathbuild.extended`), so with ``M`` images the ends
lie at ``s = 1/(M-1)`` and ``1 - 1/(M-1)``, inside the path where ``s`` still changes.
The windows, bins and basins that a path study leaves out are spans of ``s`` from
there, :data:`S_RANGE` (not the ends: at ``s`` 0 and 1 no restraint holds a window).
Every default fills only a key the study left out; what the study gives is kept.
"""

from collections.abc import Mapping, MutableMapping

import numpy as np

from mlpmf.config import ConfigError, read_structure
from mlpmf.scope import BUILD_DEFAULTS, builds_path
from mlpmf.units import kt_kj_mol

S_RANGE = (0.04, 0.96)  # window centres and bins along s
WINDOWS = 18  # centres 0.054 apart
BINS = 46  # 0.02 wide
WIDTH_PER_SPACING = 0.75  # each window's width sqrt(kT/kappa) over the centres' spacing
BUILD_IMAGES = BUILD_DEFAULTS["images"]


__all__ = ["builds_path", "complete_path_study", "images_path", "summary_path"]


def images_path(study: str) -> str:
    """Where rule ``build_path`` writes the images of a study's path."""
    return f"results/{study}/path/images.extxyz"


def summary_path(study: str) -> str:
    """Where rule ``build_path`` writes the candidates' barriers and energies."""
    return f"results/{study}/path/path.json"


def complete_path_study(config: MutableMapping) -> None:
    """Fill in what a path study leaves out (module docstring), in place, before the
    schema's checks; a config with another CV, or one the schema will reject anyway
    (a section that is not a mapping), is left as it is. A path given both ways, or an
    unreadable end structure, raises ConfigError naming the key."""
    cv = config.get("collective_variable")
    if not isinstance(cv, MutableMapping) or cv.get("kind") != "path":
        return
    if cv.get("product"):
        _complete_built_path(config, cv)
    elif cv.get("reactant"):
        raise ConfigError(
            "collective_variable.product: a path built by the workflow needs its product "
            "structure (or give your own path as collective_variable.images)"
        )
    if cv.get("component", "progress") == "progress":
        _complete_windows(config, cv)
    _check_refinement(config, cv)


def _complete_built_path(config: MutableMapping, cv: MutableMapping) -> None:
    study_images = images_path(str(config.get("study", "study")))
    if cv.get("images") and cv["images"] != study_images:
        raise ConfigError(
            "collective_variable.images: give your own path (images) or have the workflow "
            "build one (product), not both"
        )
    system = config.setdefault("system", {})
    if not isinstance(system, MutableMapping):
        return
    if not cv.get("reactant"):
        if not system.get("structure"):
            raise ConfigError(
                "collective_variable.reactant: a built path needs its reactant structure "
                "(or system.structure)"
            )
        cv["reactant"] = system["structure"]
    system.setdefault("structure", cv["reactant"])
    reactant = read_structure(cv["reactant"], "collective_variable.reactant")
    fixed = set(_fixed(reactant)) | {int(i) for i in system.get("fixed_atoms") or ()}
    cv.setdefault("atoms", [i for i in range(len(reactant)) if i not in fixed])
    # one path atom has nothing to superpose: it is compared as it stands
    cv.setdefault("align", not (fixed or bool(reactant.pbc.any()) or len(cv["atoms"]) < 2))
    build = cv.get("build") if isinstance(cv.get("build"), Mapping) else {}
    cv.setdefault("resample_images", int(build.get("images", BUILD_IMAGES)) + 2)
    cv["images"] = study_images


def _check_refinement(config: Mapping, cv: Mapping) -> None:
    """A path refined at temperature (``refine.iterations`` > 0) moves its images by
    windows along its progress s alone."""
    refine = cv.get("refine")
    if not isinstance(refine, Mapping) or not refine.get("iterations"):
        return
    if cv.get("component", "progress") != "progress":
        raise ConfigError(
            "collective_variable.refine: a path is refined by windows along its progress; "
            "give component: progress (or leave refine out)"
        )
    umbrella = config.get("umbrella")
    second = umbrella.get("second_cv") if isinstance(umbrella, Mapping) else None
    if isinstance(second, Mapping) and second.get("observable"):
        raise ConfigError(
            "collective_variable.refine: a path is refined by windows along s alone; not "
            "with umbrella.second_cv (leave refine out, or the second CV)"
        )


def _fixed(atoms) -> list[int]:
    from ase.constraints import FixAtoms

    return [
        int(i)
        for constraint in atoms.constraints
        if isinstance(constraint, FixAtoms)
        for i in constraint.get_indices()
    ]


def _complete_windows(config: MutableMapping, cv: Mapping) -> None:
    """Windows, bins and basins along ``s``, where the study leaves them out."""
    low, high = S_RANGE
    umbrella = config.setdefault("umbrella", {})
    if isinstance(umbrella, MutableMapping):
        umbrella.setdefault("centers", {"start": low, "stop": high, "num": WINDOWS})
        if "spring_constant_kj_mol" not in umbrella:
            umbrella["spring_constant_kj_mol"] = spring_constant(
                umbrella["centers"], config.get("temperature_k", 300.0)
            )
    free_energy = config.setdefault("free_energy", {})
    if isinstance(free_energy, MutableMapping):
        free_energy.setdefault("bins", {"start": low, "stop": high, "num": BINS})
    rates = config.setdefault("rates", {})
    if isinstance(rates, MutableMapping):
        images = int(cv.get("resample_images") or BUILD_IMAGES + 2)
        end = 1.0 / (images - 1)  # where the relaxed ends lie on a built path
        rates.setdefault("reactant", [low, round(2 * end, 6)])
        rates.setdefault("product", [round(1 - 2 * end, 6), high])


def spring_constant(centers, temperature_k) -> float:
    """kappa (kJ/mol per s²) that makes each window's width :data:`WIDTH_PER_SPACING`
    of the centres' mean spacing at ``temperature_k``; 1500 where the centres or the
    temperature are not readable (the schema then names the bad key)."""
    try:
        if isinstance(centers, Mapping):
            spacing = (centers["stop"] - centers["start"]) / (centers["num"] - 1)
        else:
            spacing = float(np.mean(np.abs(np.diff(np.asarray(centers, dtype=float)))))
        kt = kt_kj_mol(float(temperature_k))
        kappa = kt / (WIDTH_PER_SPACING * spacing) ** 2
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return 1500.0
    return float(f"{kappa:.3g}") if np.isfinite(kappa) and kappa > 0 else 1500.0
