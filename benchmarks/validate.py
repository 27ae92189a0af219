"""Run shipped studies from scratch and check the results each one pins.

    python benchmarks/validate.py                    # every study (hours on 2 cores)
    python benchmarks/validate.py h2o2_torsion       # one: a name in config/studies,
    python benchmarks/validate.py default            # the default study, or a path

(``make validate [STUDY=...]`` does the same.) Each study runs in its own scratch
folder, ``validation/<name>/`` (emptied first; resources and study files are linked
in, so paths in a study resolve as in the repository), with the same commands ``make
run`` uses on all cores of the machine: ``mlpmf check``, the workflow, the HTML report.
Then the study file with every key in reverse order must plan nothing (the rerun scope
of a real finished study), and the figures the study pins in its ``validation``
section (mlpmf.validation) are measured and judged. The runs are recorded in
``benchmarks/results/validation.json`` (one entry per study, the latest run), the
table ``benchmarks/results/validation.md`` (and README's copy of it) is rewritten, and
``benchmarks/results/coverage.png`` shows how the committee studies' error budgets
cover the oracle's own answers.
Exits 1 when a study fails a pin.
"""

import argparse
import datetime
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from mlpmf.validation import Check, judge, markdown, measure, record  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
SCRATCH = REPO / "validation"
README_START, README_END = "<!-- validation: start -->", "<!-- validation: end -->"
NOT_LINKED = {".git", ".venv", "results", "logs", ".snakemake", "validation"}


def study_files(names: list[str]) -> list[Path]:
    """The study files named: every shipped one by default."""
    shipped = [REPO / "config/config.yaml", *sorted((REPO / "config/studies").glob("*.yaml"))]
    if not names:
        return shipped
    files = []
    for name in names:
        candidates = [Path(name), REPO / name, REPO / "config/studies" / f"{name}.yaml"]
        if name in ("default", "config", yaml.safe_load(shipped[0].read_text())["study"]):
            candidates.insert(0, shipped[0])
        found = next((path for path in candidates if path.is_file()), None)
        if found is None:
            known = ", ".join(["default", *(p.stem for p in shipped[1:])])
            raise SystemExit(f"validate: no study {name!r}; expected one of {known} or a path")
        files.append(found.resolve())
    return files


def scratch_folder(name: str) -> Path:
    """An empty folder with the repository's files linked in (not its results)."""
    folder = SCRATCH / name
    if folder.exists():
        subprocess.run(["rm", "-rf", str(folder)], check=True)
    folder.mkdir(parents=True)
    for entry in REPO.iterdir():
        if entry.name not in NOT_LINKED:
            (folder / entry.name).symlink_to(entry)
    return folder


def snakemake(folder: Path, config: Path, *arguments: str, log=None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(folder), "--configfile", str(config), "--cores", "all",
               *arguments]  # fmt: skip
    return subprocess.run(command, stdout=log, stderr=subprocess.STDOUT if log else None,
                          text=True, capture_output=log is None)  # fmt: skip


def reversed_keys(value):
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    return value


def commit() -> str:
    """HEAD, marked when what a study runs on (not the docs) has uncommitted changes."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    paths = ["src", "workflow", "config", "resources", "Snakefile", "requirements.txt"]
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *paths],
                           cwd=REPO, capture_output=True, text=True).stdout.strip()  # fmt: skip
    return head.stdout.strip() + ("+changes" if dirty else "")


RUN_PATHS = ["src", "workflow", "resources", "Snakefile", "requirements.txt", "pyproject.toml"]


def run_inputs(commit: str, path: Path) -> str | None:
    """A digest of what a study runs on at ``commit``: the code, the resources and its
    study file without its pins (``validation``, which changes nothing a run computes);
    None where the commit is not a clean one or the file is not in it."""
    if "+" in commit:
        return None
    git = ["git", "-C", str(REPO)]
    tree = subprocess.run([*git, "ls-tree", "-r", commit, "--", *RUN_PATHS],
                          capture_output=True, text=True)  # fmt: skip
    study = subprocess.run([*git, "show", f"{commit}:{path.relative_to(REPO)}"],
                           capture_output=True, text=True)  # fmt: skip
    if tree.returncode or study.returncode:
        return None
    config = yaml.safe_load(study.stdout)
    config.pop("validation", None)
    text = tree.stdout + json.dumps(config, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def validate(path: Path) -> dict:
    """Run one study from scratch; its record (mlpmf.validation.record)."""
    config = yaml.safe_load(path.read_text())
    name = path.stem if path.parent.name == "studies" else "default"
    folder = scratch_folder(name)
    print(f"validate {name} ({config['study']}) in {folder} ...", flush=True)
    check = subprocess.run([sys.executable, "-m", "mlpmf.cli", "check", str(path)], cwd=folder,
                           env={**os.environ, "PYTHONPATH": str(REPO / "src")})  # fmt: skip
    if check.returncode:
        raise SystemExit(f"validate: {path} does not pass mlpmf check")
    start = time.monotonic()
    with open(folder / "validate.log", "w") as log:
        run = snakemake(folder, path, log=log)
    minutes = (time.monotonic() - start) / 60
    results = folder / "results" / config["study"]
    report = snakemake(folder, path, "--report", str(results / "report.html"))
    print(f"  {minutes:.1f} min, exit {run.returncode}; report exit {report.returncode}")
    reordered = folder / "reordered.yaml"
    reordered.write_text(yaml.safe_dump(reversed_keys(config), sort_keys=False))
    again = snakemake(folder, reordered, "--dry-run")
    planned = again.stdout + again.stderr
    checks = judge(config.get("validation", {}), measure(results), minutes)
    checks += [
        Check("workflow_exit_status", run.returncode, "0", run.returncode == 0),
        Check("report_built", report.returncode == 0, "true", report.returncode == 0),
        Check("reordered_keys_rerun_nothing", "Nothing to be done" in planned, "true",
              "Nothing to be done" in planned),
    ]  # fmt: skip
    for item in checks:
        print(
            f"  {'ok  ' if item.passed else 'FAIL'} {item.name}: {item.measured} ({item.expected})"
        )
    date = datetime.date.today().isoformat()
    return record(config["study"], commit(), date, minutes, checks)


RUN_CHECKS = ("workflow_exit_status", "report_built", "reordered_keys_rerun_nothing")


def rejudge(path: Path, previous: dict | None) -> dict:
    """A study's last run (its scratch folder and record) judged again against the pins
    its file has now: a pin changes nothing a run computes, so the run stands."""
    config = yaml.safe_load(path.read_text())
    name = path.stem if path.parent.name == "studies" else "default"
    results = SCRATCH / name / "results" / config["study"]
    if not results.is_dir() or not previous:
        raise SystemExit(f"validate: no earlier run of {name} in {SCRATCH / name}")
    minutes = previous["wall_time_min"]
    checks = judge(config.get("validation", {}), measure(results), minutes)
    checks += [Check(**c) for c in previous["checks"] if c["name"] in RUN_CHECKS]
    return record(config["study"], previous["commit"], previous["date"], minutes, checks)


COVERAGE = ("reference_barrier_sigmas", "reference_rate_sigmas", "reference_covered_fraction")


def plot_coverage(records: dict, path: Path) -> None:
    """The error budget against the oracle's own answer, per study whose latest run
    measured it: how many combined standard deviations its barrier and TST rate lie
    from the reference PMF's (the 95% interval holds below 1.96), and the share of bins
    its total band covers the reference in (0.95 stated)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = {
        study: {c["name"]: c["measured"] for c in run["checks"] if c["name"] in COVERAGE}
        for study, run in sorted(records.items())
    }
    rows = {study: row for study, row in rows.items() if len(row) == len(COVERAGE)}
    if not rows:
        return
    names, y = list(rows), range(len(rows))
    figure, (sigmas, covered) = plt.subplots(
        1, 2, figsize=(9, 1.2 + 0.45 * len(rows)), sharey=True, layout="constrained"
    )
    for key, marker, label in (("reference_barrier_sigmas", "o", "barrier"),
                               ("reference_rate_sigmas", "s", "TST rate")):  # fmt: skip
        sigmas.plot([rows[n][key] for n in names], y, marker, label=label)
    sigmas.axvline(1.96, color="grey", ls="--", label="95% interval")
    sigmas.set_xlabel("|result - oracle's| / combined sigma")
    sigmas.set_yticks(list(y), names)
    sigmas.legend(fontsize="small", loc="center right")
    covered.plot([rows[n]["reference_covered_fraction"] for n in names], y, "o")
    covered.axvline(0.95, color="grey", ls="--")
    covered.set_xlabel("share of PMF bins the 95% band covers")
    covered.set_xlim(0.5, 1.02)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_tables(records: dict, notes: dict, files: dict[str, Path]) -> None:
    """validation.json, validation.md and README's table; a run is marked as this
    commit's where what its study runs on is unchanged since (run_inputs), and HEAD
    has no uncommitted changes there."""
    RESULTS.joinpath("validation.json").write_text(
        json.dumps({"runs": records, "not_rerun": notes}, indent=1, sort_keys=True) + "\n"
    )
    plot_coverage(records, RESULTS / "coverage.png")
    head = commit()
    unchanged = {
        study
        for study, run in records.items()
        if study in files
        and (now := run_inputs(head, files[study])) is not None
        and run_inputs(run["commit"], files[study]) == now
    }
    table = markdown(records, notes, head, unchanged)
    RESULTS.joinpath("validation.md").write_text(
        "# Validation: every shipped study from scratch against the figures it pins\n\n"
        "Written by `make validate` (`benchmarks/validate.py`); each row is a study's latest "
        "run, on 2 cores. A study's pins and why their tolerances are what they are: its "
        "`validation` section in `config/`. How the committee studies' error budgets cover "
        "the oracle's own answers: [coverage.png](coverage.png).\n\n" + table
    )
    readme = REPO / "README.md"
    text = readme.read_text()
    if README_START in text and README_END in text:
        before, rest = text.split(README_START, 1)
        brief = markdown(records, None, head, unchanged)  # the front door: no notes
        if notes:
            brief += (
                f"\nNotes on {', '.join(sorted(notes))} (not rerun since, or checked another "
                "way): [validation.md](benchmarks/results/validation.md).\n"
            )
        readme.write_text(
            before + README_START + "\n" + brief + README_END + rest.split(README_END, 1)[1]
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("studies", nargs="*", help="names in config/studies, default, or paths")
    parser.add_argument(
        "--rejudge",
        action="store_true",
        help="judge the last runs (validation/<name>/) against the pins as they are now",
    )
    arguments = parser.parse_args()
    stored = RESULTS / "validation.json"
    previous = json.loads(stored.read_text()) if stored.is_file() else {}
    records, notes = previous.get("runs", {}), previous.get("not_rerun", {})
    failed = []
    files = {yaml.safe_load(path.read_text())["study"]: path for path in study_files([])}
    for path in study_files(arguments.studies):
        study = yaml.safe_load(path.read_text())["study"]
        run = rejudge(path, records.get(study)) if arguments.rejudge else validate(path)
        records[run["study"]] = run
        notes.pop(run["study"], None)
        write_tables(records, notes, files)
        if not run["passed"]:
            failed.append(run["study"])
    if failed:
        raise SystemExit(f"validate: {', '.join(failed)} failed (benchmarks/results/validation.md)")


if __name__ == "__main__":
    main()
