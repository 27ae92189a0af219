"""``mlpmf pmf``: umbrella windows of any engine in, PMF (and barrier and rate) out.

Reads the windows (:mod:`mlpmf.readers`), puts a periodic CV's samples, centres and bins
in one frame, checks them (:mod:`mlpmf.cli_checks`), solves MBAR or WHAM
(:mod:`mlpmf.estimators`) and writes the table, the plot and the rates.
"""

import json
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mlpmf import cli_checks as checks
from mlpmf import estimators, readers, solver, timeseries
from mlpmf.cli_checks import UsageError
from mlpmf.samples import UmbrellaSamples
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
    if not np.isfinite(temperature) or temperature <= 0:
        source = "--temperature" if args.temperature is not None else "the metadata's temperature"
        raise UsageError(f"{source}: expected a temperature above 0 K, got {temperature:g}")
    return temperature


def _bin_edges(args, samples, period) -> np.ndarray:
    """Edges of the PMF bins: ``--bins`` N or start:stop:N, by default 100 over the
    data; on a periodic CV one period (from -period/2 when a sample is negative)."""
    text = args.bins or "100"
    try:
        if text.count(":") == 2:
            start, stop, num = (float(v) for v in text.split(":"))
        else:
            start = stop = None
            num = float(text)
    except ValueError:
        raise UsageError(f"--bins: expected N or start:stop:N, got {text!r}") from None
    if num < 1 or num != int(num):
        raise UsageError(f"--bins: expected a whole number of bins of at least 1, got {num:g}")
    if start is None:
        if period is not None:
            start = -0.5 * period if min(s.min() for s in samples) < 0 else 0.0
            stop = start + period
        else:
            start, stop = min(s.min() for s in samples), max(s.max() for s in samples)
    if not start < stop:
        raise UsageError(f"--bins: expected start < stop, got {start:g}:{stop:g}")
    if period is not None and not np.isclose(stop - start, period):
        raise UsageError(
            f"--bins: on a periodic CV the bins span one period ({period:g} {args.cv_unit}), "
            f"got {start:g}:{stop:g}"
        )
    return np.linspace(start, stop, int(num) + 1)


def _read_series(args, windows) -> list[np.ndarray]:
    """Every window's CV samples from --skip on; a file with non-numbers is named."""
    series = []
    for window in tqdm(windows, desc="reading windows", unit="file", disable=args.quiet):
        data = readers.read_timeseries(window.path, args.cv)
        keep = data.time >= args.skip
        if not keep.any():
            raise UsageError(f"{window.path}: no samples at or after --skip {args.skip}")
        values = data.values[keep]
        bad = ~np.isfinite(values) | ~np.isfinite(data.time[keep])
        if bad.any():
            raise UsageError(
                f"{window.path}: {bad.sum()} of {len(values)} samples are not numbers "
                f"(NaN or inf in {data.column!r}, first at time {data.time[keep][bad][0]:g}); "
                "remove those rows"
            )
        series.append(values)
    log.info(
        "CV column %r of %d windows, %d samples", data.column, len(windows), sum(map(len, series))
    )
    return series


def run_pmf(args) -> int:
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="mlpmf: %(message)s"
    )
    args.cv_unit = cv_unit(args.cv_unit)
    spring_unit = args.spring_unit or f"kJ/mol/{args.cv_unit}^2"
    parse_spring_unit(spring_unit)
    period = args.period
    if args.periodic and period is not None:
        raise UsageError("--periodic and --period: give one (--periodic is one turn)")
    if args.periodic:
        if CV_UNITS[args.cv_unit][0] != "angle":
            raise UsageError(f"--periodic needs an angle unit, not {args.cv_unit}")
        period = 360.0 * cv_unit_factor("deg", args.cv_unit)
    if period is not None and not period > 0:
        raise UsageError(f"--period: expected a positive period, got {period:g}")
    if bool(args.reactant) != bool(args.product):
        raise UsageError("a barrier needs both --reactant and --product")
    for name, interval in (("--reactant", args.reactant), ("--product", args.product)):
        if interval and not interval[0] < interval[1]:
            raise UsageError(f"{name}: expected LO < HI, got {interval[0]:g} {interval[1]:g}")
    windows = _windows(args)
    args.window_names = [f"{w.path.name}" for w in windows]
    temperature = _temperature(args, windows)
    series = _read_series(args, windows)
    centers = np.array([w.center for w in windows])
    factor = 2.0 if args.bias_convention == "full" else 1.0
    kappa = np.array(
        [factor * spring_constant_to(w.spring_constant, spring_unit, args.cv_unit) for w in windows]
    )
    if not (np.all(np.isfinite(kappa)) and np.all(kappa > 0) and np.all(np.isfinite(centers))):
        raise UsageError("every window needs a finite centre and a positive spring constant")
    edges = _bin_edges(args, series, period)
    if period is not None:  # one frame for samples, centres and bins: -180 and 180 alike
        series = [solver.wrap(s, period, edges[0]) for s in series]
        centers = solver.wrap(centers, period, edges[0])
    checks.check_period(args, series, period)
    checks.check_centres(args, series, centers, period)
    checks.check_overlap(series, centers, period)
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
    inside = sum(int(np.sum((s >= edges[0]) & (s <= edges[-1]))) for s in samples)
    if inside == 0:
        raise UsageError(
            f"--bins {edges[0]:g}:{edges[-1]:g}: no sample lies in the bins (samples span "
            f"{min(s.min() for s in samples):g} to {max(s.max() for s in samples):g})"
        )
    common = dict(
        samples=UmbrellaSamples(samples, centers, kappa, temperature, period),
        bin_edges=edges,
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
        raise UsageError(checks.explain_convergence(error, samples, centers, period)) from None
    checks.warn_poor_overlap(result, samples, centers, kappa, temperature, edges, period)
    write_outputs(args, result, temperature, period)
    return 0


def _mass(args) -> float | None:
    """--mass-amu in amu Å² per CV unit squared (the rates module's), or None."""
    if args.mass_amu is None:
        return None
    reference = "A" if CV_UNITS[args.cv_unit][0] == "length" else "rad"
    return args.mass_amu * cv_unit_factor(args.cv_unit, reference) ** 2


def _header(args, result: estimators.PMF, temperature: float, unit: str) -> str:
    """Comment lines that say what the table's columns are (``#``: numpy, gnuplot and
    ``pandas.read_csv(path, comment="#")`` skip them)."""
    zero = result.cv[result.zero_bin]
    error = {
        "analytical": "MBAR's asymptotic covariance",
        "bootstrap": f"the spread of {args.bootstrap_samples} bootstrap replicas",
    }[args.uncertainty if args.estimator == "mbar" else "bootstrap"]
    return "\n".join(
        [
            f"# mlpmf pmf: {args.estimator.upper()} PMF at {temperature:g} K of "
            f"{len(result.window_free_energies)} windows",
            f"# cv: bin centre, {args.cv_unit}",
            f"# free_energy: {unit}; 0 at cv = {zero:g}, the lowest bin holding at least "
            f"{estimators.ZERO_MIN_SAMPLES} samples and "
            f"{estimators.ZERO_MIN_FRACTION:.0%} of the median bin's",
            f"# uncertainty: one standard error of each bin's free energy ({error}), up to "
            "the profile's normalisation: not relative to the zero bin",
            "# samples: independent samples in the bin, all windows pooled",
        ]
    )


def write_outputs(args, result: estimators.PMF, temperature: float, period=None) -> None:
    """PREFIX.csv (cv, free energy, uncertainty, samples, under comment lines that say
    what they are), PREFIX.png and, with basins, PREFIX.json (barrier and rates; kJ/mol
    and 1/s, as the workflow's rates.json; on a periodic CV both ways round)."""
    from mlpmf.plotting import plot_pmfs
    from mlpmf.rates import Profile, barrier_and_rate

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
    text = table.to_csv(index=False, float_format="%.8g")
    Path(f"{prefix}.csv").write_text(_header(args, result, temperature, unit) + "\n" + text)
    log.info("PMF: %s.csv", prefix)
    rates = None
    if args.reactant:
        replicas = result.bootstrap_free_energies
        try:
            rates = barrier_and_rate(
                Profile(
                    result.cv,
                    result.free_energy,
                    result.uncertainty,
                    replicas if len(replicas) else None,
                    period,
                ),
                temperature,
                args.reactant,
                args.product,
                _mass(args),
            )
        except ValueError as error:
            raise UsageError(str(error).replace("rates.", "--")) from None
        rates["cv_unit"] = args.cv_unit
        Path(f"{prefix}.json").write_text(json.dumps(rates, indent=2, sort_keys=True) + "\n")
        log.info(
            "barrier %.2f +- %.2f kJ/mol%s; rate %.3g 1/s (%s): %s.json",
            rates["barrier_kj_mol"],
            rates["barrier_uncertainty_kj_mol"],
            f" over {rates['transition_state_cv']:g} {args.cv_unit}, the lower way round"
            if period is not None
            else "",
            rates.get("rate_constant_per_s", rates["eyring_rate_constant_per_s"]),
            "TST" if "rate_constant_per_s" in rates else "Eyring; --mass-amu gives TST",
            prefix,
        )
    shown = table.iloc[:, :3].copy()
    figure = plot_pmfs(
        {args.estimator.upper(): shown}, f"CV ({args.cv_unit})", rates, energy_unit=unit
    )
    figure.savefig(f"{prefix}.png", dpi=150)
    log.info("plot: %s.png", prefix)
