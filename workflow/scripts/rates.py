"""Barrier and transition-state-theory rate constant from the MBAR PMF."""

import sys

sys.stderr = open(snakemake.log[0], "w")

import pandas as pd
from ase.io import read

from mlpmf.colvars import effective_mass_amu, make_colvar
from mlpmf.io import read_json, write_json, write_table
from mlpmf.rates import barrier_and_rate

params = snakemake.params
structure = read(snakemake.input.structure)
mass = effective_mass_amu(
    make_colvar(params.collective_variable), structure.positions, structure.get_masses()
)


def analyse(path):
    pmf = pd.read_csv(path)
    return barrier_and_rate(
        pmf["cv"].to_numpy(),
        pmf["free_energy_kj_mol"].to_numpy(),
        pmf["uncertainty_kj_mol"].to_numpy(),
        params.temperature_k,
        params.rates["reactant"],
        params.rates["product"],
        mass,
    )


result = analyse(snakemake.input.mbar)
result["method"] = "MBAR PMF, " + result["method"]
wham = analyse(snakemake.input.wham)
result["wham_barrier_kj_mol"] = wham["barrier_kj_mol"]
result["wham_barrier_uncertainty_kj_mol"] = wham["barrier_uncertainty_kj_mol"]
result["wham_rate_constant_per_s"] = wham["rate_constant_per_s"]
rows = [
    ("MBAR", result["barrier_kj_mol"], result["barrier_uncertainty_kj_mol"]),
    ("WHAM", wham["barrier_kj_mol"], wham["barrier_uncertainty_kj_mol"]),
]
if "reference" in snakemake.input.keys():
    reference = read_json(snakemake.input.reference)
    result["reference_barrier_kj_mol"] = reference["barrier_kj_mol"]
    rows.append((reference.get("method", "reference"), reference["barrier_kj_mol"], None))
write_json(result, snakemake.output.rates)
write_table(
    pd.DataFrame(rows, columns=["method", "barrier_kj_mol", "uncertainty_kj_mol"]),
    snakemake.output.barriers,
)
