"""Collective variables from their settings: the config's ``collective_variable``
section (and each ``observables`` entry) checked and turned into a
:class:`mlpmf.colvars.CollectiveVariable`, with errors that name the bad key."""

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from mlpmf.colvars import (
    AXES,
    Angle,
    CollectiveVariable,
    CoordinationNumber,
    Dihedral,
    Distance,
    LinearCombination,
    Position,
    SignedVolume,
)
from mlpmf.pathcv import PathCV, UpperWall, resample
from mlpmf.scope import SWITCHING_DEFAULTS
from mlpmf.settings import ColvarSettings

CV_KINDS = (
    "distance", "position", "angle", "dihedral", "signed_volume",
    "difference_of_distances", "linear_combination", "coordination_number", "path",
)  # fmt: skip
ATOM_COUNTS = {"distance": 2, "position": 1, "angle": 3, "dihedral": 4, "signed_volume": 4}


def make_colvar(settings: ColvarSettings | Mapping, structure=None) -> CollectiveVariable:
    """Build the CV described by the config's ``collective_variable`` section; a
    minimum-image distance takes its cell from ``structure`` (an ASE Atoms)."""
    settings = ColvarSettings.of(settings)
    kind, atoms = settings.kind, settings.atoms
    if kind not in CV_KINDS:
        raise ValueError(
            f"collective_variable.kind: unknown CV {kind!r}; expected one of {CV_KINDS}"
        )
    if kind in ("difference_of_distances", "linear_combination"):
        return _linear_combination(kind, atoms, settings)
    if kind == "coordination_number":
        return _coordination_number(atoms, settings)
    if kind == "path":
        return _path(atoms, settings, structure)
    if len(atoms) != ATOM_COUNTS[kind] or len(set(atoms)) != len(atoms):
        raise ValueError(
            f"collective_variable.atoms: {kind} needs {ATOM_COUNTS[kind]} distinct atoms, "
            f"got {list(atoms)}"
        )
    if kind == "position":
        axis = settings.axis
        if axis not in AXES:
            raise ValueError(f"collective_variable.axis: expected one of x, y, z, got {axis!r}")
        return Position(atoms, axis)
    if kind == "distance" and settings.minimum_image:
        if structure is None or not any(structure.pbc):
            raise ValueError(
                "collective_variable.minimum_image: needs a structure with a periodic cell "
                "(pbc and cell in the structure file)"
            )
        cell = tuple(tuple(float(v) for v in row) for row in structure.cell.array)
        return Distance(atoms, cell=cell, pbc=tuple(bool(p) for p in structure.pbc))
    classes = {"distance": Distance, "angle": Angle, "dihedral": Dihedral}
    return classes.get(kind, SignedVolume)(atoms)


def period_and_unit(settings: ColvarSettings | Mapping) -> tuple[float | None, str]:
    """Period (None when not periodic) and unit of the CV ``settings`` describe, without
    the structure that a minimum-image distance needs to be evaluated, or the images of
    a path (which a workflow may not have built yet)."""
    settings = ColvarSettings.of(settings)
    if settings.kind == "path":
        return None, PathCV.UNITS[settings.component]
    cv = make_colvar(dataclasses.replace(settings, minimum_image=False))
    return cv.period, cv.unit


def _linear_combination(kind: str, atoms: tuple[int, ...], settings: ColvarSettings):
    if kind == "difference_of_distances":
        if len(atoms) != 4:
            raise ValueError(
                "collective_variable.atoms: difference_of_distances needs 4 atoms, a b c d "
                f"for |r_b - r_a| - |r_d - r_c|, got {list(atoms)}"
            )
        coefficients = (1.0, -1.0)
    else:
        coefficients = settings.coefficients
        if len(atoms) < 2 or len(atoms) % 2 or len(coefficients) != len(atoms) // 2:
            raise ValueError(
                "collective_variable.coefficients: linear_combination needs atoms in pairs "
                f"and one coefficient per pair; got {len(atoms)} atoms and "
                f"{len(coefficients)} coefficients"
            )
    pairs = tuple((atoms[k], atoms[k + 1]) for k in range(0, len(atoms), 2))
    if any(i == j for i, j in pairs):
        raise ValueError(f"collective_variable.atoms: a pair of one atom with itself in {pairs}")
    return LinearCombination(pairs, coefficients)


def _coordination_number(atoms: tuple[int, ...], settings: ColvarSettings) -> CoordinationNumber:
    other = settings.other_atoms
    switching = {**SWITCHING_DEFAULTS, **settings.switching}
    n, m = int(switching["n"]), int(switching["m"]) or 2 * int(switching["n"])
    if len(set(atoms)) != len(atoms) or len(set(other)) != len(other):
        raise ValueError("collective_variable.atoms: repeated atoms in a coordination group")
    if not other and len(atoms) < 2:
        raise ValueError(
            "collective_variable.other_atoms: a coordination number needs a second group, "
            "or at least two atoms to pair within atoms"
        )
    if other and not any(i != j for i in atoms for j in other):
        raise ValueError("collective_variable.other_atoms: no pair of distinct atoms")
    if switching["r0_a"] <= 0 or n < 1 or m == n:
        raise ValueError(
            "collective_variable.switching: expected r0_a > 0, n >= 1 and m != n (m = 0 "
            f"means 2n), got {switching}"
        )
    return CoordinationNumber(
        atoms, other, float(switching["r0_a"]), float(switching["d0_a"]), n, m
    )


def _path(atoms: tuple[int, ...], settings: ColvarSettings, structure) -> PathCV:
    """The path CV through the images of ``settings.images`` (their ``atoms``)."""
    from ase.io import read

    key = "collective_variable.images"
    if not settings.images or not Path(settings.images).is_file():
        raise ValueError(f"{key}: no file {settings.images!r}; a path CV needs its images")
    try:
        frames = read(settings.images, index=":")
    except Exception as error:  # ASE raises many types for unreadable files
        raise ValueError(f"{key}: cannot read {settings.images!r}: {error}") from None
    if len(frames) < 2:
        raise ValueError(
            f"{key}: {settings.images!r} holds {len(frames)} image; expected 2 or more"
        )
    sizes = {len(frame) for frame in frames}
    expected = len(structure) if structure is not None else max(sizes)
    if sizes != {expected} or max(atoms) >= expected:
        raise ValueError(
            f"{key}: {settings.images!r} has images of {sorted(sizes)} atoms; expected every "
            f"one of the structure's {expected}, which include the path atoms {list(atoms)}"
        )
    if len(set(atoms)) != len(atoms):
        raise ValueError(f"collective_variable.atoms: repeated atoms in the path atoms {atoms}")
    images = np.array([frame.positions[list(atoms)] for frame in frames])
    if settings.resample_images:
        images = resample(images, settings.resample_images, settings.align)
    return PathCV(atoms, images, settings.component, settings.lambda_per_a2, settings.align)


def make_wall(settings: ColvarSettings | Mapping, structure=None) -> UpperWall | None:
    """The upper wall on a path CV's distance z that ``settings`` asks for, or None."""
    settings = ColvarSettings.of(settings)
    if settings.kind != "path" or settings.distance_wall_a2 is None:
        return None
    distance = make_colvar(dataclasses.replace(settings, component="distance"), structure)
    return UpperWall(distance, float(settings.distance_wall_a2), settings.distance_wall_kj_mol)
