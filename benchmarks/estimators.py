"""Benchmark: our MBAR and WHAM against pymbar 4 on the same exact umbrella samples.

    python benchmarks/estimators.py            # all sizes; writes benchmarks/results/estimators.md

Each measurement runs in a fresh subprocess, so its peak resident memory (ru_maxrss) is
its own. Samples are drawn exactly (inverse CDF) from the biased distributions of a
1D double well, K windows of N samples each. pymbar is timed for MBAR solve + histogram
FES (values only); ours for solve + PMF + analytical uncertainties (strictly more work).
pymbar uses JAX when it is importable in the interpreter running this script.
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
KAPPA = 300.0  # kJ/mol/Å^2
SIZES = [(40, 5_000), (100, 20_000), (200, 100_000)]
PYMBAR_MAX_BYTES = 8e9  # u_kn beyond this does not fit this machine
HERE = Path(__file__).resolve().parent


def pmf_kj_mol(x):
    return 12.0 * (x**2 - 1.0) ** 2


def samples(num_windows, num_samples, seed=0):
    from mlpmf.units import kt_kj_mol

    kt = kt_kj_mol(TEMPERATURE_K)
    grid = np.linspace(-2.2, 2.2, 88001)
    centers = np.linspace(-1.6, 1.6, num_windows)
    rng = np.random.default_rng(seed)
    out = []
    for center in centers:
        log_p = -(pmf_kj_mol(grid) + 0.5 * KAPPA * (grid - center) ** 2) / kt
        cdf = np.cumsum(np.exp(log_p - log_p.max()))
        out.append(np.interp(rng.random(num_samples), cdf / cdf[-1], grid))
    return out, centers


EDGES = np.linspace(-1.5, 1.5, 61)


def run_one(method, num_windows, num_samples, output):
    from mlpmf.units import kt_kj_mol

    # each process imports only its own estimator, so peak memory is its own
    if method == "pymbar":
        from pymbar import FES
    else:
        from mlpmf.estimators import mbar, wham
        from mlpmf.samples import UmbrellaSamples

    data, centers = samples(num_windows, num_samples)
    kappas = np.full(num_windows, KAPPA)
    kt = kt_kj_mol(TEMPERATURE_K)
    started = time.perf_counter()  # imports and sample generation are not timed
    if method == "ours-mbar":
        free = mbar(UmbrellaSamples(data, centers, kappas, TEMPERATURE_K), EDGES).free_energy
    elif method == "ours-wham":
        free = wham(
            UmbrellaSamples(data, centers, kappas, TEMPERATURE_K), EDGES, bootstrap_samples=0
        ).free_energy
    elif method == "ours-bootstrap100":
        free = mbar(
            UmbrellaSamples(data, centers, kappas, TEMPERATURE_K),
            EDGES,
            uncertainty="bootstrap",
            bootstrap_samples=100,
        ).free_energy
    elif method == "pymbar":
        x = np.concatenate(data)
        u_kn = 0.5 * kappas[:, None] * (x[None, :] - centers[:, None]) ** 2 / kt
        fes = FES(u_kn, np.full(num_windows, num_samples))
        fes.generate_fes(
            np.zeros(len(x)), x, fes_type="histogram", histogram_parameters={"bin_edges": EDGES}
        )
        cv = 0.5 * (EDGES[1:] + EDGES[:-1])
        free = fes.get_fes(cv, reference_point="from-lowest")["f_i"] * kt
        free -= np.nanmin(free)
    else:
        raise ValueError(method)
    elapsed = time.perf_counter() - started
    np.save(output, free)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "peak_mb": peak_mb}))


def measure(method, num_windows, num_samples, workdir):
    output = Path(workdir) / f"{method}_{num_windows}_{num_samples}.npy"
    command = [
        sys.executable,
        __file__,
        "--one",
        method,
        str(num_windows),
        str(num_samples),
        str(output),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1]}
    record = json.loads(result.stdout.strip().splitlines()[-1])
    record["free"] = np.load(output)
    return record


def jax_available():
    try:
        import jax  # noqa: F401

        return True
    except ImportError:
        return False


def main():
    from mlpmf.units import kt_kj_mol

    kt = kt_kj_mol(TEMPERATURE_K)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for num_windows, num_samples in SIZES:
            ours = measure("ours-mbar", num_windows, num_samples, workdir)
            wham = measure("ours-wham", num_windows, num_samples, workdir)
            boot = measure("ours-bootstrap100", num_windows, num_samples, workdir)
            if num_windows * num_windows * num_samples * 8 * 3 < PYMBAR_MAX_BYTES:
                theirs = measure("pymbar", num_windows, num_samples, workdir)
            else:
                theirs = {
                    "error": "u_kn would need %.0f GB" % (num_windows**2 * num_samples * 8 / 1e9)
                }
            row = {
                "size": f"{num_windows} x {num_samples:,}",
                "ours_s": ours["seconds"],
                "ours_mb": ours["peak_mb"],
                "wham_s": wham["seconds"],
                "bootstrap100_s": boot["seconds"],
            }
            if "seconds" in theirs:
                row.update(
                    pymbar_s=theirs["seconds"],
                    pymbar_mb=theirs["peak_mb"],
                    speedup=theirs["seconds"] / ours["seconds"],
                    max_diff_kt=float(np.nanmax(np.abs(theirs["free"] - ours["free"])) / kt),
                )
            else:
                row["pymbar_note"] = theirs["error"]
            rows.append(row)
            print(row, flush=True)

    lines = [
        "# Estimators: ours vs pymbar 4",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {platform.system()}, "
        f"{__import__('os').cpu_count()} cores; Python {platform.python_version()}; "
        f"pymbar with JAX: {jax_available()}.",
        "Exact samples of a 1D double well (barrier 12 kJ/mol), kappa 300 kJ/mol/Å², 300 K,",
        "60 bins. Ours: MBAR solve + PMF + analytical uncertainties. pymbar: MBAR solve +",
        "histogram FES values.",
        "",
        "| K x N | ours MBAR (s) | pymbar (s) | speed-up | ours peak MB | pymbar peak MB "
        "| max abs PMF diff (kT) | ours WHAM (s) | ours MBAR + 100 bootstraps (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        if "pymbar_s" in row:
            pymbar = (
                f"{row['pymbar_s']:.2f} | {row['speedup']:.0f}x | {row['ours_mb']:.0f} | "
                f"{row['pymbar_mb']:.0f} | {row['max_diff_kt']:.1e}"
            )
        else:
            pymbar = f"{row['pymbar_note']} | n/a | {row['ours_mb']:.0f} | n/a | n/a"
        lines.append(
            f"| {row['size']} | {row['ours_s']:.3f} | {pymbar} | "
            f"{row['wham_s']:.3f} | {row['bootstrap100_s']:.2f} |"
        )
    lines += [
        "",
        "Peak memory is the whole process's resident set, the samples themselves included.",
    ]
    text = "\n".join(lines) + "\n"
    (HERE / "results" / "estimators.md").write_text(text)
    print(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--one", nargs=4, metavar=("METHOD", "K", "N", "OUTPUT"))
    arguments = parser.parse_args()
    if arguments.one:
        method, k, n, output = arguments.one
        run_one(method, int(k), int(n), output)
    else:
        main()
