"""Benchmark: are the 2D estimators' error bars calibrated over many independent repeats?

    python benchmarks/coverage2d.py [--repeats 20]   # appends to benchmarks/results/coverage2d.md

Each repeat draws new exact samples of the two-basin surface of tests/test_estimators2d.py
(63 windows x 1500 samples; every deviation from the exact PMF is statistical) and
estimates the 2D PMF with MBAR and WHAM (40 bootstrap replicas for the errors).
Per repeat: the share of bins below 20 kJ/mol whose estimate lies within one error bar
of the exact bin free energy (after the weighted constant shift), and the z-score of the
minimum free-energy path barrier between the basins. Calibrated errors give a one-sigma
coverage near 0.68 (the issue's band: 0.6-0.75) and barrier z-scores with mean 0 and
standard deviation 1.
"""

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from test_estimators2d import deviations, draw, estimate, exact_binned  # noqa: E402

from mlpmf.estimators2d import mbar_2d, wham_2d  # noqa: E402

ESTIMATORS = {"MBAR, bootstrap": mbar_2d, "WHAM, bootstrap": wham_2d}


def judge(pmf, exact):
    """One-sigma coverage of the bins below 20 kJ/mol, and the path barrier's z-score."""
    difference, uncertainty, (barrier, error, exact_barrier) = deviations(pmf, exact)
    return float(np.mean(np.abs(difference) < uncertainty)), (barrier - exact_barrier) / error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=HERE / "results/coverage2d.md")
    arguments = parser.parse_args()
    exact = exact_binned()
    results = {name: [] for name in ESTIMATORS}
    started = time.perf_counter()
    for repeat in range(arguments.repeats):
        windows = draw(np.random.default_rng(1000 + repeat), 1500)
        for name, estimator in ESTIMATORS.items():
            results[name].append(judge(estimate(estimator, windows), exact))
        print(f"repeat {repeat + 1}/{arguments.repeats}", flush=True)
    lines = [
        f"## {time.strftime('%Y-%m-%d')}: {arguments.repeats} repeats, 63 windows x 1500 exact "
        f"samples, 20 x 15 bins ({platform.machine()}, {time.perf_counter() - started:.0f} s)",
        "",
        "| estimator, errors | one-sigma coverage: mean (min-max over repeats) | two-sigma "
        "share of barrier z | barrier z: mean, std |",
        "|---|---|---|---|",
    ]
    for name, rows in results.items():
        coverage = np.array([r[0] for r in rows])
        z = np.array([r[1] for r in rows])
        spread = f"{coverage.mean():.3f} ({coverage.min():.2f}-{coverage.max():.2f})"
        lines.append(f"| {name} | {spread} | {np.mean(np.abs(z) < 2):.2f} "
                     f"| {z.mean():+.2f}, {z.std(ddof=1):.2f} |")  # fmt: skip
    text = "\n".join(lines) + "\n"
    print(text)
    if not arguments.out.exists():
        arguments.out.write_text("# 2D error bars over repeats (benchmarks/coverage2d.py)\n\n"
                                 + (__doc__.split("\n\n", 2)[2]) + "\n")  # fmt: skip
    with arguments.out.open("a") as handle:
        handle.write(text + "\n")


if __name__ == "__main__":
    main()
