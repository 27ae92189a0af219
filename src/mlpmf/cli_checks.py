"""The ``mlpmf pmf`` command's checks of a user's windows before anything is solved:
centres against samples, window spreads against the spring (a unit mistake moves them
all by one factor, and the message names the unit that would fit), a torsion without a
period, windows no sample joins; and, after solving, poor overlap and a solver that did
not converge, explained."""

import logging

import numpy as np

from mlpmf import diagnostics, solver
from mlpmf.units import CV_UNITS, ENERGY_UNITS_KJ_MOL, cv_unit_factor, kt_kj_mol, parse_spring_unit

log = logging.getLogger("mlpmf")

# A wrong unit moves every window's spread ratio by one factor; these are the usual ones.
SPREAD_ERROR = (0.55, 1.8)  # median ratio outside: stop (--no-unit-check to go on)
SPREAD_WARNING = (0.7, 1.2)  # median ratio outside: warn
WINDOW_SPREAD = (0.4, 2.5)  # a single window outside: named


class UsageError(ValueError):
    """Arguments that cannot describe the data; the message says what to give."""


def _alternatives(spring_unit: str, convention: str):
    """(description, factor on the spread ratio) for the usual unit mistakes."""
    energy, k_cv = parse_spring_unit(spring_unit)
    alternatives = []
    for other in ENERGY_UNITS_KJ_MOL:
        if other != energy:
            ratio = ENERGY_UNITS_KJ_MOL[other] / ENERGY_UNITS_KJ_MOL[energy]
            alternatives.append((f"--spring-unit {other}/{k_cv}^2", np.sqrt(ratio)))
    dimension = CV_UNITS[k_cv][0]
    for other, (other_dimension, _) in CV_UNITS.items():
        if other != k_cv and other_dimension == dimension:
            # k per other^2 read as per k_cv^2: true k (per k_cv^2) = k * (other per k_cv)^2
            factor = cv_unit_factor(k_cv, other)
            alternatives.append((f"--spring-unit {energy}/{other}^2", abs(factor)))
    flipped = "full" if convention == "half" else "half"
    alternatives.append(
        (f"--bias-convention {flipped}", np.sqrt(2.0) if flipped == "full" else 1 / np.sqrt(2))
    )
    return alternatives


def check_centres(args, samples, centers, period):
    outside = [
        f"window {k}: centre {c:g}, samples {np.min(x):.3g} to {np.max(x):.3g}"
        for k, (x, c) in enumerate(zip(samples, centers, strict=True))
        if period is None and not np.min(x) <= c <= np.max(x)
    ]
    if len(outside) > len(samples) // 2:
        raise UsageError(
            f"{len(outside)} of {len(samples)} window centres lie outside their samples' "
            f"range ({'; '.join(outside[:3])}): are centres and samples both in "
            f"{args.cv_unit}? (PLUMED writes nm and rad, GROMACS nm and deg)"
        )


def check_spreads(args, samples, centers, kappa, temperature, period, spring_unit):
    ratios = diagnostics.spread_ratios(samples, centers, kappa, temperature, period)
    median = float(np.median(ratios))
    widths = np.sqrt(kt_kj_mol(temperature) / np.asarray(kappa))
    off = [
        f"window {k} (centre {c:g}): spread {r * w:.3g} vs {w:.3g} {args.cv_unit}"
        for k, (c, r, w) in enumerate(zip(centers, ratios, widths, strict=True))
        if not WINDOW_SPREAD[0] < r < WINDOW_SPREAD[1]
    ]
    if SPREAD_WARNING[0] < median < SPREAD_WARNING[1]:
        for line in off:
            log.warning("%s: far from the spring's width sqrt(kT/k)", line)
        return ratios
    fits = sorted(
        (abs(np.log(median * factor)), name)
        for name, factor in _alternatives(spring_unit, args.bias_convention)
    )
    hint = f"; {fits[0][1]} would fit (median ratio 1 +- 25%)" if fits[0][0] < np.log(1.25) else ""
    message = (
        f"window spreads are {median:.2f} times sqrt(kT/k) (median over windows; "
        f"0.8-1.0 is usual){hint}. Check --spring-unit ({spring_unit}), --cv-unit "
        f"({args.cv_unit}) and --bias-convention ({args.bias_convention})"
    )
    if off:
        message += ". Furthest: " + "; ".join(off[:3])
    if SPREAD_ERROR[0] < median < SPREAD_ERROR[1] or args.no_unit_check:
        log.warning("%s", message)
        return ratios
    raise UsageError(message + " (--no-unit-check solves anyway)")


def check_period(args, samples, period):
    if period is not None or CV_UNITS[args.cv_unit][0] != "angle":
        return
    turn = 360.0 * cv_unit_factor("deg", args.cv_unit)
    span = max(s.max() for s in samples) - min(s.min() for s in samples)
    if span > 0.8 * turn:
        log.warning(
            "samples span %.3g %s, %.0f%% of a full turn, and no --period was given: a "
            "torsion needs --periodic, or windows at +-180 deg seem far apart",
            span,
            args.cv_unit,
            100 * span / turn,
        )


def check_overlap(samples, centers):
    gaps = [
        f"{centers[k]:g} and {centers[j]:g}"
        for k, j, value in diagnostics.neighbour_sample_overlaps(samples, centers)
        if value == 0.0
    ]
    if gaps:
        raise UsageError(
            "no samples join the windows at " + ", ".join(gaps) + ": the free energy across "
            "the gap is undetermined; add windows between them, or check the centres' unit"
        )


def warn_poor_overlap(result, samples, centers, kappa, temperature, edges, period):
    data = solver.collapse_samples(samples, centers, kappa, temperature, edges, period)
    overlaps = diagnostics.neighbour_overlaps(
        diagnostics.overlap_matrix(data, result.window_free_energies), centers
    )
    ordered = np.sort(centers)
    for k, value in enumerate(overlaps):
        if value < diagnostics.OVERLAP_WARNING_THRESHOLD:
            log.warning(
                "windows at %g and %g overlap only %.3f (MBAR overlap; below %g the PMF "
                "between them is unreliable): add a window between them",
                ordered[k],
                ordered[k + 1],
                value,
                diagnostics.OVERLAP_WARNING_THRESHOLD,
            )


def explain_convergence(error, samples, centers):
    gaps = [
        f"{centers[k]:g} and {centers[j]:g} (overlap {value:.3f})"
        for k, j, value in diagnostics.neighbour_sample_overlaps(samples, centers)
        if value < 0.01
    ]
    if gaps:
        return (
            f"{error}. No samples join the windows at "
            + ", ".join(gaps)
            + ": add windows between them, or check the units of centres and samples"
        )
    return f"{error}. Every neighbour pair shares samples; check the spring-constant unit"
