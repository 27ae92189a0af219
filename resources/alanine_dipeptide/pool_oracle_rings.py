"""The GFN2-xTB reference PMF along phi of L-alanine dipeptide, pooled from its two
independent oracle-driven runs.

    python resources/alanine_dipeptide/pool_oracle_rings.py

``L_oracle_pmf_mbar.csv`` (a ring of 24 windows started from neighbouring frames of one
scan) and ``L_oracle_distinct_ring_pmf_mbar.csv`` (a ring started from structurally
distinct frames) are each an MBAR PMF with MBAR's error bars, which do not see psi: 7-ps
windows do not equilibrate it, and the two runs lie 1.3 kJ/mol RMS apart (chi2 per bin
about 1.7). Pooled by :func:`mlpmf.convergence.pool_profiles`, the reference's error
carries their scatter (the factor sqrt(chi2)) as a study's own independent sets do, so
that a committee study's band is judged against what the oracle's answer is known to.
Writes ``L_oracle_pooled_pmf_mbar.csv``.
"""

from pathlib import Path

import pandas as pd

from mlpmf.convergence import pool_profiles

HERE = Path(__file__).parent
RUNS = ["L_oracle_pmf_mbar.csv", "L_oracle_distinct_ring_pmf_mbar.csv"]


def main() -> None:
    tables = [pd.read_csv(HERE / name, comment="#") for name in RUNS]
    if not all((t["cv"].to_numpy() == tables[0]["cv"].to_numpy()).all() for t in tables):
        raise SystemExit("the runs' bins differ")
    free, error, chi2 = pool_profiles(
        [t["free_energy_kj_mol"].to_numpy() for t in tables],
        [t["uncertainty_kj_mol"].to_numpy() for t in tables],
    )
    out = HERE / "L_oracle_pooled_pmf_mbar.csv"
    with open(out, "w") as handle:
        handle.write(f"# pooled from {', '.join(RUNS)}: chi2 per bin {chi2:.2f}, errors x "
                     f"{max(1.0, chi2) ** 0.5:.2f}\n")  # fmt: skip
        pd.DataFrame({"cv": tables[0]["cv"], "free_energy_kj_mol": free,
                      "uncertainty_kj_mol": error}).to_csv(handle, index=False)  # fmt: skip
    print(f"{out}: chi2 per bin {chi2:.2f}")


if __name__ == "__main__":
    main()
