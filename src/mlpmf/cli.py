"""The ``mlpmf`` command: ``mlpmf pmf`` (umbrella-sampling data from any engine in,
PMF out; :mod:`mlpmf.cli_pmf`) and ``mlpmf check`` (a study file checked as the
workflow will read it, in a second, before anything runs).

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
import sys
from pathlib import Path

import numpy as np

from mlpmf import readers
from mlpmf.cli_checks import UsageError
from mlpmf.cli_pmf import run_pmf
from mlpmf.units import CV_UNITS, ENERGY_UNITS_KJ_MOL

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


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description as written, and every option's default after its help (an option
    without a value by default says in its help what happens then)."""

    def _get_help_string(self, action):
        text = action.help or ""
        unset = action.default is None or action.default is False
        if not unset and action.default is not argparse.SUPPRESS and action.option_strings:
            text += " (default: %(default)s)"
        return text


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
        formatter_class=_HelpFormatter,
    )
    data = pmf.add_argument_group("input")
    data.add_argument("files", nargs="*", help="time-series files, one per window")
    data.add_argument(
        "--metadata", type=Path, help="WHAM metadata file: path center k [tau [T]] (or FILES)"
    )
    data.add_argument(
        "--centers",
        type=_floats,
        help="window centres (with FILES), in the files' order: list or a:b:n",
    )
    data.add_argument(
        "--spring-constant", type=_floats, help="one value for all windows, or one per window"
    )
    data.add_argument(
        "--cv",
        help="column: a name (COLVAR field, xvg legend) or number (1=time); "
        "default: the first column after the time",
    )
    data.add_argument(
        "--skip", type=float, default=0.0, help="drop samples before this time (file's unit)"
    )
    units = pmf.add_argument_group("units")
    units.add_argument("--cv-unit", required=True, help=f"one of {', '.join(CV_UNITS)} (required)")
    units.add_argument(
        "--spring-unit",
        help="ENERGY/CV^2, e.g. kcal/mol/A^2; default: kJ/mol per --cv-unit squared",
    )
    units.add_argument(
        "--bias-convention",
        choices=["half", "full"],
        default="half",
        help="half: k/2 (x-c)^2 (WHAM, PLUMED, GROMACS); full: k (x-c)^2 (AMBER)",
    )
    units.add_argument(
        "--energy-unit",
        default="kJ/mol",
        choices=[*ENERGY_UNITS_KJ_MOL, "kT"],
        help="of the output table (the JSON is in kJ/mol)",
    )
    units.add_argument(
        "--period", type=float, help="the CV's period, in its unit; default: not periodic"
    )
    units.add_argument("--periodic", action="store_true", help="period of one turn (deg, rad)")
    units.add_argument("--temperature", type=float, help="K; default: the metadata's")
    solve = pmf.add_argument_group("estimate")
    solve.add_argument("--estimator", choices=["mbar", "wham"], default="mbar", help="estimator")
    solve.add_argument(
        "--uncertainty",
        choices=["analytical", "bootstrap"],
        default="analytical",
        help="MBAR's error bars: asymptotic covariance, or bootstrap (WHAM: bootstrap)",
    )
    solve.add_argument("--bootstrap-samples", type=int, default=100, help="bootstrap replicas")
    solve.add_argument("--seed", type=int, default=0, help="of the bootstrap")
    solve.add_argument(
        "--bins",
        help="N, or start:stop:N edges; default: 100 bins over the data (one turn if periodic)",
    )
    solve.add_argument("--no-decorrelate", action="store_true", help="use every sample")
    solve.add_argument(
        "--no-equilibration-detection", action="store_true", help="keep each window's start"
    )
    solve.add_argument(
        "--no-unit-check", action="store_true", help="solve despite spreads that fit no unit"
    )
    solve.add_argument(
        "--no-centre-check",
        action="store_true",
        help="solve despite windows whose samples do not reach their centres",
    )
    rates = pmf.add_argument_group("barrier and rate")
    rates.add_argument(
        "--reactant",
        nargs=2,
        type=float,
        metavar=("LO", "HI"),
        help="CV interval of the reactant basin; with --product: barrier and rate, PREFIX.json",
    )
    rates.add_argument(
        "--product", nargs=2, type=float, metavar=("LO", "HI"), help="of the product basin"
    )
    rates.add_argument(
        "--mass-amu",
        type=float,
        help="the CV's effective mass (amu for a distance; amu Å^2/rad^2 for an angle) "
        "for the TST rate; default: Eyring's rate only",
    )
    pmf.add_argument("-o", "--output", default="pmf", help="prefix of PREFIX.csv, .png, .json")
    pmf.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    pmf.set_defaults(handler=run_pmf)
    check = commands.add_parser(
        "check",
        help="check a study file as the workflow will read it",
        description="Check study files before running them: the YAML (a syntax error names "
        "the file and line), every key against the workflow's schema, and what needs the "
        "structure and the files the study names (mlpmf.studycheck); warnings for legal "
        "but implausible settings. Run from the repository (paths in a study are relative "
        "to it).",
    )
    check.add_argument("studies", nargs="+", type=Path, help="study files (YAML)")
    check.set_defaults(handler=run_check)
    return parser


SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def run_check(args) -> int:
    """Check every study file; print what the workflow would say, stop at the first
    bad one."""
    from mlpmf.config import ConfigError, load_study_file
    from mlpmf.pathstudy import complete_path_study
    from mlpmf.studycheck import check_study

    for path in args.studies:
        config = load_study_file(path)
        try:
            complete_path_study(config)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None
        if SCHEMA.is_file():  # a checkout of the workflow: its schema, with its defaults
            from snakemake.exceptions import WorkflowError
            from snakemake.utils import validate

            try:
                validate(config, str(SCHEMA), set_default=False)
                validate(config, str(SCHEMA))
            except WorkflowError as error:
                raise ConfigError(f"{path}: {str(error).splitlines()[0]}") from None
        try:
            warnings = check_study(config)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None
        for warning in warnings:
            print(f"mlpmf: warning: {path}: {warning}", file=sys.stderr)
        print(f"{path}: study {config['study']} is valid")
    return 0


def main(argv=None) -> int:
    """Entry point of the ``mlpmf`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (UsageError, readers.FormatError, ValueError) as error:  # ConfigError too
        print(f"mlpmf: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
