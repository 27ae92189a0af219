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

from test_estimators2d import CENTERS, EDGES, KAPPA, TEMPERATURE, draw, exact_binned  # noqa: E402

from mlpmf.estimators2d import mbar_2d, minimax_height, wham_2d  # noqa: E402

BASINS = ((-0.95, -0.45), (1.05, 0.65))
ESTIMATES = {
    "MBAR, bootstrap": lambda w: mbar_2d(w, CENTERS, [KAPPA] * len(CENTERS), TEMPERATURE,
                                         EDGES, bootstrap_samples=40, seed=3),
    "WHAM, bootstrap": lambda w: wham_2d(w, CENTERS, [KAPPA] * len(CENTERS), TEMPERATURE,
                                         EDGES, bootstrap_samples=40, seed=3),
}  # fmt: skip


def judge(pmf, exact):
    low = (exact - exact.min() < 20.0) & np.isfinite(pmf.free_energy)
    difference = pmf.free_energy - exact
    weights = 1.0 / pmf.uncertainty[low] ** 2
    difference -= np.sum(weights * difference[low]) / weights.sum()
    coverage = float(np.mean(np.abs(difference[low]) < pmf.uncertainty[low]))
    barrier, error = pmf.path_barrier(*BASINS)
    start, end = pmf._bin_of(BASINS[0]), pmf._bin_of(BASINS[1])
    exact_barrier = minimax_height(exact, start, end) - exact[start]
    return coverage, (barrier - exact_barrier) / error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=HERE / "results/coverage2d.md")
    arguments = parser.parse_args()
    exact = exact_binned()
    results = {name: [] for name in ESTIMATES}
    started = time.perf_counter()
    for repeat in range(arguments.repeats):
        windows = draw(np.random.default_rng(1000 + repeat), 1500)
        for name, estimate in ESTIMATES.items():
            results[name].append(judge(estimate(windows), exact))
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
