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

from mlpmf import cli_checks as checks
from mlpmf import estimators, readers, solver, timeseries
from mlpmf.cli_checks import UsageError
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
    checks.check_period(args, series, period)
    checks.check_centres(args, series, centers, period)
    checks.check_overlap(series, centers)
    checks.check_spreads(args, series, centers, kappa, temperature, period, spring_unit)
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
        raise UsageError(checks.explain_convergence(error, samples, centers)) from None
    checks.warn_poor_overlap(result, samples, centers, kappa, temperature, edges, period)
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
