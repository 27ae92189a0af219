"""The ``mlpmf`` command: umbrella-sampling data from any engine in, PMF out.

``mlpmf pmf`` reads windows from a Grossfield WHAM metadata file (``path center k``
per line) or from time-series files with ``--centers`` and ``--spring-constant``;
time series may be PLUMED COLVAR, GROMACS .xvg, CSV or plain columns
(:mod:`mlpmf.readers`). Units are explicit: the CV's (``--cv-unit``), the spring
constant's (``--spring-unit``, ENERGY/CV^2, and ``--bias-convention``: k/2 (x-c)^2 as
in WHAM, PLUMED and GROMACS, or k (x-c)^2 as in AMBER), and the output energy's. Before
solving it checks every window's spread against the spring's and stops, naming the
windows and the unit that would fit, when they disagree as a unit mistake would.
"""

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mlpmf import diagnostics, estimators, readers, solver, timeseries
from mlpmf.units import (
    CV_UNITS,
    ENERGY_UNITS_KJ_MOL,
    cv_unit,
    cv_unit_factor,
    kt_kj_mol,
    parse_spring_unit,
    spring_constant_to,
)

log = logging.getLogger("mlpmf")

DESCRIPTION = """\
PMF from umbrella windows of any engine. Windows come from a WHAM metadata file
(path center k [tau [T]] per line) or from time-series FILES with --centers and
--spring-constant; a time series may be a PLUMED COLVAR, a GROMACS .xvg, a CSV or plain
columns (time first). Units are explicit; before solving, every window's spread is
checked against the spring's width sqrt(kT/k), and a unit mistake stops the run with the
windows it shows in and the unit that would fit. Samples are decorrelated and their
equilibration dropped as pymbar's timeseries module does. Writes PREFIX.csv, PREFIX.png
and, with --reactant and --product, PREFIX.json (barrier and rate)."""

EXAMPLES = """\
examples:
  # GROMACS pullx.xvg files listed in a WHAM metadata file (nm, kJ/mol/nm^2)
  mlpmf pmf --metadata metadata.dat --cv-unit nm --temperature 300 -o pmf

  # PLUMED COLVAR files, dihedral phi in rad, RESTRAINT KAPPA in kJ/mol/rad^2
  mlpmf pmf colvar.* --cv phi --cv-unit rad --periodic --centers=-3.14:2.88:24 \\
      --spring-constant 100 --temperature 300 --reactant -2.5 -0.5 --product 0.5 1.5

  # AMBER-style restraints, k (x - c)^2 in kcal/mol/A^2, output in kcal/mol
  mlpmf pmf --metadata meta.dat --cv-unit A --spring-unit kcal/mol/A^2 \\
      --bias-convention full --energy-unit kcal/mol --temperature 298.15
"""

# A wrong unit moves every window's spread ratio by one factor; these are the usual ones.
SPREAD_ERROR = (0.55, 1.8)  # median ratio outside: stop (--no-unit-check to go on)
SPREAD_WARNING = (0.7, 1.2)  # median ratio outside: warn
WINDOW_SPREAD = (0.4, 2.5)  # a single window outside: named


class UsageError(ValueError):
    """Arguments that cannot describe the data; the message says what to give."""


def _floats(text: str) -> list[float]:
    """``"a,b,c"``, ``"a b c"`` or ``"start:stop:num"`` (inclusive, like numpy.linspace)."""
    if text.count(":") == 2:
        start, stop, num = text.split(":")
        return list(np.linspace(float(start), float(stop), int(num)))
    return [float(v) for v in text.replace(",", " ").split()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlpmf", description="Free-energy profiles from umbrella sampling."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    pmf = commands.add_parser(
        "pmf",
        help="PMF (MBAR or WHAM) from umbrella windows of any engine",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = pmf.add_argument_group("input")
    data.add_argument("files", nargs="*", help="time-series files, one per window")
    data.add_argument("--metadata", type=Path, help="WHAM metadata file: path center k [tau [T]]")
    data.add_argument("--centers", type=_floats, help="window centres (with FILES): list or a:b:n")
    data.add_argument(
        "--spring-constant", type=_floats, help="one value for all windows, or one per window"
    )
    data.add_argument("--cv", help="column: a name (COLVAR field, xvg legend) or number (1=time)")
    data.add_argument(
        "--skip", type=float, default=0.0, help="drop samples before this time (file's unit)"
    )
    units = pmf.add_argument_group("units")
    units.add_argument("--cv-unit", required=True, help=f"one of {', '.join(CV_UNITS)}")
    units.add_argument("--spring-unit", help="ENERGY/CV^2, e.g. kcal/mol/A^2 (default kJ/mol/CV^2)")
    units.add_argument(
        "--bias-convention",
        choices=["half", "full"],
        default="half",
        help="half: k/2 (x-c)^2 (WHAM, PLUMED, GROMACS); full: k (x-c)^2 (AMBER)",
    )
    units.add_argument("--energy-unit", default="kJ/mol", choices=[*ENERGY_UNITS_KJ_MOL, "kT"])
    units.add_argument("--period", type=float, help="the CV's period, in its unit")
    units.add_argument("--periodic", action="store_true", help="period of one turn (deg, rad)")
    units.add_argument("--temperature", type=float, help="K (else the metadata's)")
    solve = pmf.add_argument_group("estimate")
    solve.add_argument("--estimator", choices=["mbar", "wham"], default="mbar")
    solve.add_argument("--uncertainty", choices=["analytical", "bootstrap"], default="analytical")
    solve.add_argument("--bootstrap-samples", type=int, default=100)
    solve.add_argument("--seed", type=int, default=0, help="of the bootstrap")
    solve.add_argument("--bins", help="N, or start:stop:N edges (default: 100 over the data)")
    solve.add_argument("--no-decorrelate", action="store_true", help="use every sample")
    solve.add_argument("--no-equilibration-detection", action="store_true")
    solve.add_argument("--no-unit-check", action="store_true", help="solve despite the spread")
    rates = pmf.add_argument_group("barrier and rate")
    rates.add_argument("--reactant", nargs=2, type=float, metavar=("LO", "HI"))
    rates.add_argument("--product", nargs=2, type=float, metavar=("LO", "HI"))
    rates.add_argument(
        "--mass-amu",
        type=float,
        help="the CV's effective mass (amu for a distance; amu Å^2/rad^2 for an angle) "
        "for the TST rate; without it the rate is Eyring's",
    )
    pmf.add_argument("-o", "--output", default="pmf", help="prefix of PREFIX.csv, .png, .json")
    pmf.add_argument("-q", "--quiet", action="store_true")
    pmf.set_defaults(handler=run_pmf)
    return parser


def _windows(args) -> list[readers.WindowSpec]:
    if args.metadata and args.files:
        raise UsageError("give either --metadata or time-series FILES, not both")
    if args.metadata:
        if args.centers or args.spring_constant:
            raise UsageError("--centers/--spring-constant come from the metadata file")
        return readers.read_wham_metadata(args.metadata)
    if not args.files:
        raise UsageError("no input: give --metadata FILE or time-series FILES")
    if args.centers is None or args.spring_constant is None:
        raise UsageError("time-series FILES need --centers and --spring-constant")
    if len(args.centers) != len(args.files):
        raise UsageError(f"{len(args.files)} files but {len(args.centers)} --centers")
    springs = args.spring_constant
    if len(springs) == 1:
        springs = springs * len(args.files)
    if len(springs) != len(args.files):
        raise UsageError(f"{len(args.files)} files but {len(springs)} --spring-constant values")
    return [
        readers.WindowSpec(Path(f), c, k)
        for f, c, k in zip(args.files, args.centers, springs, strict=True)
    ]


def _temperature(args, windows) -> float:
    given = {w.temperature_k for w in windows if w.temperature_k is not None}
    if len(given) > 1:
        raise UsageError(f"the metadata lists several temperatures {sorted(given)}: one only")
    if args.temperature is None and not given:
        raise UsageError("give --temperature (K)")
    temperature = args.temperature if args.temperature is not None else given.pop()
    if given and abs(given.pop() - temperature) > 1e-6:
        raise UsageError(f"--temperature {temperature} differs from the metadata's")
    return temperature


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


def _check_centres(args, samples, centers, period):
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


def _check_spreads(args, samples, centers, kappa, temperature, period, spring_unit):
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


def _check_period(args, samples, period):
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


def _bin_edges(args, samples, period):
    if args.bins and args.bins.count(":") == 2:
        start, stop, num = args.bins.split(":")
        return np.linspace(float(start), float(stop), int(num) + 1)
    num = int(args.bins) if args.bins else 100
    if period is not None:
        low = min(s.min() for s in samples)
        start = -0.5 * period if low < 0 else 0.0
        return np.linspace(start, start + period, num + 1)
    low, high = min(s.min() for s in samples), max(s.max() for s in samples)
    return np.linspace(low, high, num + 1)


def _check_overlap(samples, centers):
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


def _warn_poor_overlap(result, samples, centers, kappa, temperature, edges, period):
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


def _explain_convergence(error, samples, centers):
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


def run_pmf(args) -> int:
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="mlpmf: %(message)s"
    )
    args.cv_unit = cv_unit(args.cv_unit)
    spring_unit = args.spring_unit or f"kJ/mol/{args.cv_unit}^2"
    parse_spring_unit(spring_unit)
    period = args.period
    if args.periodic:
        if CV_UNITS[args.cv_unit][0] != "angle":
            raise UsageError(f"--periodic needs an angle unit, not {args.cv_unit}")
        period = 360.0 * cv_unit_factor("deg", args.cv_unit)
    windows = _windows(args)
    temperature = _temperature(args, windows)
    series = []
    for window in tqdm(windows, desc="reading windows", unit="file", disable=args.quiet):
        data = readers.read_timeseries(window.path, args.cv)
        keep = data.time >= args.skip
        if not keep.any():
            raise UsageError(f"{window.path}: no samples at or after --skip {args.skip}")
        series.append(data.values[keep])
    log.info(
        "CV column %r of %d windows, %d samples", data.column, len(windows), sum(map(len, series))
    )
    centers = np.array([w.center for w in windows])
    factor = 2.0 if args.bias_convention == "full" else 1.0
    kappa = np.array(
        [factor * spring_constant_to(w.spring_constant, spring_unit, args.cv_unit) for w in windows]
    )
    _check_period(args, series, period)
    _check_centres(args, series, centers, period)
    _check_overlap(series, centers)
    _check_spreads(args, series, centers, kappa, temperature, period, spring_unit)
    kept = timeseries.kept_indices(
        series,
        not args.no_decorrelate,
        not args.no_equilibration_detection,
        centers,
        period,
    )
    samples = [s[k] for s, k in zip(series, kept, strict=True)]
    log.info("independent samples per window: %s", [len(s) for s in samples])
    edges = _bin_edges(args, series, period)
    common = dict(
        cv_samples=samples,
        centers=centers,
        spring_constants=kappa,
        temperature=temperature,
        bin_edges=edges,
        period=period,
        seed=args.seed,
    )
    bootstrap = args.bootstrap_samples if args.uncertainty == "bootstrap" else 0
    try:
        if args.estimator == "mbar":
            result = estimators.mbar(
                **common, uncertainty=args.uncertainty, bootstrap_samples=bootstrap
            )
        else:
            result = estimators.wham(**common, bootstrap_samples=args.bootstrap_samples)
    except solver.ConvergenceError as error:
        raise UsageError(_explain_convergence(error, samples, centers)) from None
    _warn_poor_overlap(result, samples, centers, kappa, temperature, edges, period)
    write_outputs(args, result, temperature)
    return 0


def write_outputs(args, result: estimators.PMF, temperature: float) -> None:
    """PREFIX.csv (cv, free energy, uncertainty, samples), PREFIX.png and, with basins,
    PREFIX.json (barrier and rates; kJ/mol and 1/s, as the workflow's rates.json)."""
    from mlpmf.plotting import plot_pmfs
    from mlpmf.rates import barrier_and_rate

    unit = args.energy_unit
    scale = kt_kj_mol(temperature) if unit == "kT" else ENERGY_UNITS_KJ_MOL[unit]
    suffix = {"kJ/mol": "kj_mol", "kcal/mol": "kcal_mol", "eV": "ev", "kT": "kt"}[unit]
    names = {
        "free_energy_kj_mol": f"free_energy_{suffix}",
        "uncertainty_kj_mol": f"uncertainty_{suffix}",
    }
    table = result.to_frame().rename(columns=names)
    table.iloc[:, 1:3] /= scale
    table["samples"] = result.counts
    prefix = Path(args.output)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(f"{prefix}.csv", index=False, float_format="%.8g")
    log.info("PMF: %s.csv", prefix)
    rates = None
    if args.reactant and args.product:
        mass = None
        if args.mass_amu is not None:
            reference = "A" if CV_UNITS[args.cv_unit][0] == "length" else "rad"
            mass = args.mass_amu * cv_unit_factor(args.cv_unit, reference) ** 2
        rates = barrier_and_rate(
            result.cv,
            result.free_energy,
            result.uncertainty,
            temperature,
            args.reactant,
            args.product,
            mass,
            bootstrap_free_energies_kj_mol=result.bootstrap_free_energies
            if len(result.bootstrap_free_energies)
            else None,
        )
        rates["cv_unit"] = args.cv_unit
        Path(f"{prefix}.json").write_text(json.dumps(rates, indent=2, sort_keys=True) + "\n")
        log.info(
            "barrier %.2f +- %.2f kJ/mol; rate %.3g 1/s (%s): %s.json",
            rates["barrier_kj_mol"],
            rates["barrier_uncertainty_kj_mol"],
            rates.get("rate_constant_per_s", rates["eyring_rate_constant_per_s"]),
            "TST" if "rate_constant_per_s" in rates else "Eyring; --mass-amu gives TST",
            prefix,
        )
    elif args.reactant or args.product:
        raise UsageError("a barrier needs both --reactant and --product")
    shown = table.iloc[:, :3].copy()
    figure = plot_pmfs(
        {args.estimator.upper(): shown}, f"CV ({args.cv_unit})", rates, energy_unit=unit
    )
    figure.savefig(f"{prefix}.png", dpi=150)
    log.info("plot: %s.png", prefix)


def main(argv=None) -> int:
    """Entry point of the ``mlpmf`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (UsageError, readers.FormatError, ValueError) as error:
        print(f"mlpmf: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
