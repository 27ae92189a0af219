"""The ``mlpmf pmf`` command's checks of a user's windows before anything is solved:
centres against samples, window spreads against the spring (a unit mistake moves them
all by one factor, and the message names the unit that would fit), a torsion without a
period, windows no sample joins; and, after solving, poor overlap and a solver that did
not converge, explained."""

import logging

import numpy as np

from mlpmf import diagnostics, overlap, solver
from mlpmf.colvars import periodic_difference
from mlpmf.units import CV_UNITS, ENERGY_UNITS_KJ_MOL, cv_unit_factor, kt_kj_mol, parse_spring_unit

log = logging.getLogger("mlpmf")

# A wrong unit moves every window's spread ratio by one factor; these are the usual ones.
SPREAD_ERROR = (0.55, 1.8)  # median ratio outside: stop (--no-unit-check to go on)
SPREAD_WARNING = (0.7, 1.2)  # median ratio outside: stop if a usual mistake explains it
USUAL_SPREAD = 0.9  # the median ratio of real studies (diagnostics.spread_ratios)
CONVENTIONS = {"half": "k/2 (x-c)^2", "full": "k (x-c)^2"}
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
    """Every window's samples must reach its centre (on a periodic CV, measured round the
    circle from the centre). Most windows missing theirs: a unit mistake. A few whose
    samples sit round another window's centre: centres listed in another order than
    the files (a silently tilted profile otherwise)."""
    offsets = [
        periodic_difference(np.asarray(x), c, period) for x, c in zip(samples, centers, strict=True)
    ]
    missed = [k for k, d in enumerate(offsets) if not d.min() <= 0.0 <= d.max()]
    if not missed or args.no_centre_check:
        return
    where = [
        f"window {k}: centre {centers[k]:g}, samples "
        f"{centers[k] + offsets[k].min():.3g} to {centers[k] + offsets[k].max():.3g}"
        for k in missed
    ]
    means = [c + float(np.mean(d)) for c, d in zip(centers, offsets, strict=True)]
    swapped = []
    for k in missed:
        distances = np.abs(periodic_difference(np.asarray(centers), means[k], period))
        nearest = int(np.argmin(distances))
        around = periodic_difference(np.asarray(samples[k]), centers[nearest], period)
        if nearest != k and around.min() <= 0.0 <= around.max():  # another's centre fits
            swapped.append(
                f"{args.window_names[k]} samples round {means[k]:.3g}, the centre of "
                f"{args.window_names[nearest]} ({centers[nearest]:g}), not its own "
                f"({centers[k]:g})"
            )
    if swapped and (len(swapped) == len(missed) or len(missed) <= len(samples) // 2):
        raise UsageError(
            f"the centres seem listed in another order than the files ({len(swapped)} of "
            f"{len(samples)} windows): "
            + "; ".join(swapped[:4])
            + ". List one centre per file, in the files' order (--no-centre-check solves anyway)"
        )
    if len(missed) > len(samples) // 2:
        raise UsageError(
            f"{len(missed)} of {len(samples)} window centres lie outside their samples' "
            f"range ({'; '.join(where[:3])}): are centres and samples both in "
            f"{args.cv_unit}? (PLUMED writes nm and rad, GROMACS nm and deg)"
        )
    for line in where:
        log.warning("%s: the window never reached its centre (a steep PMF or a weak spring)", line)


def check_spreads(args, samples, centers, kappa, temperature, period, spring_unit):
    """The windows' spreads against the springs' widths sqrt(kT/k). A median ratio
    outside the usual range that a usual mistake (another energy or CV unit in the
    spring constant, the other bias convention: a factor sqrt(2)) would bring back into
    it stops the run naming that mistake; a median far outside any usual range stops it
    too. ``--no-unit-check`` solves anyway."""
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
    name, factor = min(
        _alternatives(spring_unit, args.bias_convention),
        key=lambda alternative: abs(np.log(median * alternative[1] / USUAL_SPREAD)),
    )
    explained = SPREAD_WARNING[0] < median * factor < SPREAD_WARNING[1]
    hint = f"; {name} would fit" if explained else ""
    message = (
        f"window spreads are {median:.2f} times sqrt(kT/k) (median over windows; "
        f"{SPREAD_WARNING[0]}-{SPREAD_WARNING[1]} is usual){hint}. Check --spring-unit "
        f"({spring_unit}), --cv-unit ({args.cv_unit}) and --bias-convention "
        f"({args.bias_convention}: {CONVENTIONS[args.bias_convention]})"
    )
    if off:
        message += ". Furthest: " + "; ".join(off[:3])
    if args.no_unit_check or (not explained and SPREAD_ERROR[0] < median < SPREAD_ERROR[1]):
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


def check_overlap(samples, centers, period=None):
    gaps = [
        f"{centers[k]:g} and {centers[j]:g}"
        for k, j, value in overlap.neighbour_sample_overlaps(samples, centers, period=period)
        if value == 0.0
    ]
    if gaps:
        raise UsageError(
            "no samples join the windows at " + ", ".join(gaps) + ": the free energy across "
            "the gap is undetermined; add windows between them, or check the centres' unit"
        )


def warn_poor_overlap(result, samples, centers, kappa, temperature, edges, period):
    data = solver.collapse_samples(samples, centers, kappa, temperature, edges, period)
    overlaps = overlap.neighbour_overlaps(
        overlap.overlap_matrix(data, result.window_free_energies), centers
    )
    ordered = np.sort(centers)
    for k, value in enumerate(overlaps):
        if value < overlap.OVERLAP_WARNING_THRESHOLD:
            log.warning(
                "windows at %g and %g overlap only %.3f (MBAR overlap; below %g the PMF "
                "between them is unreliable): add a window between them",
                ordered[k],
                ordered[k + 1],
                value,
                overlap.OVERLAP_WARNING_THRESHOLD,
            )


def explain_convergence(error, samples, centers, period=None):
    gaps = [
        f"{centers[k]:g} and {centers[j]:g} (overlap {value:.3f})"
        for k, j, value in overlap.neighbour_sample_overlaps(samples, centers, period=period)
        if value < 0.01
    ]
    if gaps:
        return (
            f"{error}. No samples join the windows at "
            + ", ".join(gaps)
            + ": add windows between them, or check the units of centres and samples"
        )
    return f"{error}. Every neighbour pair shares samples; check the spring-constant unit"
