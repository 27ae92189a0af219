"""What a study's config implies beyond its own values: the umbrella windows' grid
(centres and spring constants, on one or two CVs, in every set of ``umbrella.repeats``),
the free-energy bins, and the seed of every stage and window derived from the study
seed.
"""

import zlib
from collections.abc import Mapping

import numpy as np

from mlpmf.config import ConfigError


def linear_or_list(value, key: str) -> np.ndarray:
    """A list of numbers, or ``{start, stop, num}`` expanded like numpy.linspace."""
    if isinstance(value, Mapping):
        return np.linspace(value["start"], value["stop"], int(value["num"]))
    values = np.asarray(value, dtype=float)
    if values.ndim != 1 or len(values) == 0:
        raise ConfigError(f"{key}: expected a list of numbers or {{start, stop, num}}")
    return values


def window_centers(config: Mapping) -> np.ndarray:
    """Umbrella window centres, CV unit."""
    return linear_or_list(config["umbrella"]["centers"], "umbrella.centers")


def window_spring_constants(config: Mapping) -> np.ndarray:
    """Spring constant of every window, kJ/mol per CV unit squared."""
    kappa = np.asarray(config["umbrella"]["spring_constant_kj_mol"], dtype=float)
    num_windows = len(window_centers(config))
    if kappa.ndim == 1 and len(kappa) != num_windows:
        raise ConfigError(
            f"umbrella.spring_constant_kj_mol: {len(kappa)} values for {num_windows} windows"
        )
    return np.broadcast_to(kappa, (num_windows,)).copy()


def second_cv(config: Mapping) -> tuple[str, Mapping] | None:
    """The observable restrained as the second CV of 2D umbrella sampling: (name, its
    config entry), or None for 1D umbrella sampling."""
    name = config["umbrella"].get("second_cv", {}).get("observable")
    return None if name is None else (name, config["observables"][name])


def window_grid(config: Mapping) -> dict[str, np.ndarray]:
    """Every window's centre and spring constant: ``center``, ``spring_constant`` and,
    in 2D umbrella sampling, ``center_2``, ``spring_constant_2`` (every centre of the
    CV with every centre of the second CV, the second varying fastest); and ``repeat``,
    which of the ``umbrella.repeats`` independent sets of windows (different seeds, the
    same centres) the window belongs to: set r holds windows r*n .. (r+1)*n - 1."""
    centers, kappas = window_centers(config), window_spring_constants(config)
    grid = {"center": centers, "spring_constant": kappas}
    if second_cv(config) is not None:
        section = config["umbrella"]["second_cv"]
        second = linear_or_list(section["centers"], "umbrella.second_cv.centers")
        grid = {
            "center": np.repeat(centers, len(second)),
            "spring_constant": np.repeat(kappas, len(second)),
            "center_2": np.tile(second, len(centers)),
            "spring_constant_2": np.full(
                len(centers) * len(second), section["spring_constant_kj_mol"]
            ),
        }
    repeats = int(config["umbrella"].get("repeats", 1))
    size = len(grid["center"])
    return {
        **{name: np.tile(values, repeats) for name, values in grid.items()},
        "repeat": np.repeat(np.arange(repeats), size),
    }


def second_bin_edges(config: Mapping) -> np.ndarray | None:
    """Edges of the second CV's bins (its observable's), or None in 1D."""
    found = second_cv(config)
    if found is None:
        return None
    return _edges(found[1]["bins"])


def bin_edges(config: Mapping) -> np.ndarray:
    """Edges of the PMF bins: ``free_energy.bins`` gives num bins between start and stop."""
    return _edges(config["free_energy"]["bins"])


def _edges(bins: Mapping) -> np.ndarray:
    return np.linspace(bins["start"], bins["stop"], int(bins["num"]) + 1)


def child_seed(seed: int, *keys: int) -> int:
    """An independent seed for one task (e.g. one window) derived from the study seed."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


def window_seed(
    seed: int,
    center: float,
    spring_constant: float,
    center_2: float | None = None,
    spring_constant_2: float | None = None,
    repeat: int = 0,
) -> int:
    """The seed of the umbrella window at ``center`` (and ``center_2`` in 2D) in set
    ``repeat`` of ``umbrella.repeats``: tied to the window's centres, spring constants
    and set, not to its place in the list, so inserting a window (or adding a set)
    leaves the others' seeds (and trajectories) as they were."""
    key = f"{float(center) + 0.0:.9g}/{float(spring_constant):.9g}"  # no -0 vs 0
    if center_2 is not None:
        key += f"/{float(center_2) + 0.0:.9g}/{float(spring_constant_2):.9g}"
    if repeat:
        key += f"#{int(repeat)}"
    return child_seed(seed, 1, zlib.crc32(key.encode()))
