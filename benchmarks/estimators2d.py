"""Benchmark: our 2D MBAR against pymbar 4's 2D histogram FES on the same exact samples.

    python benchmarks/estimators2d.py      # writes benchmarks/results/estimators2d.md

Each measurement runs in a fresh subprocess (its own peak resident memory, ru_maxrss).
Samples are drawn exactly from the biased distributions of the analytic two-basin
surface of tests/test_estimators2d.py on a 0.01 grid, K windows on a square grid of
centres, N samples each. Ours: collapse, solve, 2D PMF (values; and with 20 bootstrap
replicas for error bars). pymbar: MBAR solve + 2D histogram FES values, on the sizes
whose K x (K N) reduced-potential matrix fits this machine.
"""

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TEMPERATURE_K = 300.0
KAPPA = 40.0  # kJ/mol per unit^2, both CVs
SIZES = [(100, 5_000), (100, 20_000), (400, 100_000)]
PYMBAR_MAX_BYTES = 1e9  # pymbar took 132 s on 100 x 5,000 here: larger sizes take too long
# equal bin counts: pymbar 4 calls np.shape on the list of edges, which NumPy 2 refuses
# when the arrays differ in length
EDGES = (np.linspace(-2.0, 2.0, 41), np.linspace(-1.5, 1.5, 41))
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


def samples(num_windows, num_samples, seed=0):
    from test_estimators2d import surface

    from mlpmf.units import kt_kj_mol

    kt = kt_kj_mol(TEMPERATURE_K)
    side = int(round(np.sqrt(num_windows)))
    centers = [(x, y) for x in np.linspace(-2.0, 2.0, side) for y in np.linspace(-1.5, 1.5, side)]
    fine = np.linspace(-2.6, 2.6, 521)
    gx, gy = np.meshgrid(fine, fine, indexing="ij")
    free = surface(gx, gy)
    rng = np.random.default_rng(seed)
    out = []
    for cx, cy in centers:
        log_p = -(free + 0.5 * KAPPA * ((gx - cx) ** 2 + (gy - cy) ** 2)) / kt
        cdf = np.cumsum(np.exp(log_p - log_p.max()).ravel())
        cells = np.searchsorted(cdf, rng.random(num_samples) * cdf[-1])
        jitter = rng.uniform(-0.005, 0.005, (num_samples, 2))
        out.append(np.column_stack([gx.ravel()[cells], gy.ravel()[cells]]) + jitter)
    return out, centers


def run_one(method, num_windows, num_samples, output):
    from mlpmf.units import kt_kj_mol

    if method == "pymbar":
        from pymbar import FES
    else:
        from mlpmf.estimators2d import mbar_2d
        from mlpmf.samples import UmbrellaSamples

    data, centers = samples(num_windows, num_samples)
    kappas = [(KAPPA, KAPPA)] * len(centers)
    started = time.perf_counter()  # imports and sample generation are not timed
    if method == "ours":
        free = mbar_2d(
            UmbrellaSamples(data, centers, kappas, TEMPERATURE_K), EDGES, bootstrap_samples=0
        )
        free = free.free_energy
    elif method == "ours-bootstrap20":
        free = mbar_2d(
            UmbrellaSamples(data, centers, kappas, TEMPERATURE_K), EDGES, bootstrap_samples=20
        )
        free = free.free_energy
    elif method == "pymbar":
        kt = kt_kj_mol(TEMPERATURE_K)
        x = np.concatenate(data)
        c = np.asarray(centers)
        u_kn = 0.5 * KAPPA * ((x[None, :, 0] - c[:, None, 0]) ** 2
                              + (x[None, :, 1] - c[:, None, 1]) ** 2) / kt  # fmt: skip
        fes = FES(u_kn, np.full(len(centers), num_samples))
        fes.generate_fes(np.zeros(len(x)), x, fes_type="histogram",
                         histogram_parameters={"bin_edges": list(EDGES)})  # fmt: skip
        mid = [0.5 * (e[1:] + e[:-1]) for e in EDGES]
        grid = np.column_stack([g.ravel() for g in np.meshgrid(*mid, indexing="ij")])
        free = fes.get_fes(grid, reference_point="from-lowest")["f_i"] * kt
        free = free.reshape(len(mid[0]), len(mid[1]))
        free -= np.nanmin(free)
    else:
        raise ValueError(method)
    elapsed = time.perf_counter() - started
    np.save(output, free)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "peak_mb": peak_mb}))


def measure(method, num_windows, num_samples, workdir):
    output = Path(workdir) / f"{method}_{num_windows}_{num_samples}.npy"
    command = [sys.executable, __file__, "--one", method, str(num_windows), str(num_samples),
               str(output)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1]}
    record = json.loads(result.stdout.strip().splitlines()[-1])
    record["free"] = np.load(output)
    return record


def main():
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for num_windows, num_samples in SIZES:
            ours = measure("ours", num_windows, num_samples, workdir)
            boot = measure("ours-bootstrap20", num_windows, num_samples, workdir)
            row = {"size": f"{num_windows} x {num_samples:,}", "ours": ours, "boot": boot}
            if num_windows * num_windows * num_samples * 8 <= PYMBAR_MAX_BYTES:
                row["pymbar"] = measure("pymbar", num_windows, num_samples, workdir)
            rows.append(row)
            print(row["size"], {k: v.get("seconds", v.get("error")) for k, v in row.items()
                                if isinstance(v, dict)}, flush=True)  # fmt: skip
    lines = [
        "# 2D estimators: ours vs pymbar 4",
        "",
        f"{time.strftime('%Y-%m-%d')}; {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}. Exact samples of the two-basin surface of "
        "tests/test_estimators2d.py, K windows on a square grid (kappa 40 kJ/mol/unit^2 "
        "on both CVs), N samples each, 40 x 40 bins. Ours: collapse + solve + 2D PMF "
        "values (and with 20 bootstrap replicas). pymbar: MBAR solve + 2D histogram FES "
        "values; run where its K x KN matrix is under 1 GB.",
        "",
        "| K x N | ours (s) | ours peak MB | ours + 20 bootstrap (s) | pymbar (s) | "
        "pymbar peak MB | max abs diff (kJ/mol, bins < 20) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ours, boot, theirs = row["ours"], row["boot"], row.get("pymbar")
        if "error" in ours:
            lines.append(f"| {row['size']} | failed: {ours['error']} | | | | | |")
            continue
        cells = [f"{ours['seconds']:.1f}", f"{ours['peak_mb']:.0f}",
                 f"{boot.get('seconds', float('nan')):.1f}"]  # fmt: skip
        if theirs and "error" not in theirs:
            low = np.isfinite(ours["free"]) & np.isfinite(theirs["free"]) & (ours["free"] < 20)
            diff = np.abs((ours["free"] - theirs["free"])[low]).max()
            cells += [f"{theirs['seconds']:.1f}", f"{theirs['peak_mb']:.0f}", f"{diff:.1e}"]
        else:
            note = theirs["error"] if theirs else "K x KN matrix over 1 GB: not run"
            cells += [note, "", ""]
        lines.append(f"| {row['size']} | " + " | ".join(cells) + " |")
    out = HERE / "results" / "estimators2d.md"
    out.write_text("\n".join(lines) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", nargs=4, metavar=("METHOD", "K", "N", "OUTPUT"))
    arguments = parser.parse_args()
    if arguments.one:
        method, k, n, output = arguments.one
        run_one(method, int(k), int(n), output)
    else:
        main()
