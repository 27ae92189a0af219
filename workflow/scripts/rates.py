"""Barrier and rate constants from the MBAR and WHAM PMFs, errors from their bootstraps."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np
import pandas as pd
from ase.io import read

from mlpmf.colvars import effective_mass_amu, periodic_difference
from mlpmf.cvsettings import make_colvar
from mlpmf.io import read_json, write_json, write_table
from mlpmf.rates import barrier_and_rate, periodic_path_barriers

params = snakemake.params
structure = read(snakemake.input.structure)
cv = make_colvar(params.collective_variable, structure)
mass = effective_mass_amu(cv, structure.positions, structure.get_masses())


def nearest_reference_path(path, references, period):
    """The reference path whose top lies nearest this one's (within a sixth of the
    period), or None."""
    if not references:
        return None
    distances = [
        abs(periodic_difference(path["transition_state_cv"], ref["transition_state_cv"], period))
        for ref in references
    ]
    best = int(np.argmin(distances))
    return references[best] if distances[best] <= period / 6 else None


def analyse(estimator):
    pmf = pd.read_csv(snakemake.input[estimator])
    return barrier_and_rate(
        pmf["cv"].to_numpy(),
        pmf["free_energy_kj_mol"].to_numpy(),
        pmf["uncertainty_kj_mol"].to_numpy(),
        params.temperature_k,
        params.rates["reactant"],
        params.rates["product"],
        mass,
        friction_per_fs=params.friction_per_fs,
        bootstrap_free_energies_kj_mol=np.load(snakemake.input[f"{estimator}_bootstrap"]),
    )


result = analyse("mbar")
result["method"] = "MBAR PMF, " + result["method"]
wham = analyse("wham")
for key in ("barrier_kj_mol", "barrier_uncertainty_kj_mol", "rate_constant_per_s"):
    result[f"wham_{key}"] = wham[key]
rows = [
    ("MBAR", result["barrier_kj_mol"], result["barrier_uncertainty_kj_mol"]),
    ("WHAM", wham["barrier_kj_mol"], wham["barrier_uncertainty_kj_mol"]),
]
reference = read_json(snakemake.input.reference) if "reference" in snakemake.input.keys() else {}
if cv.period is not None:  # both ways round the circle, e.g. through cis and trans
    pmf = pd.read_csv(snakemake.input["mbar"])
    result["paths"] = periodic_path_barriers(
        pmf["cv"].to_numpy(),
        pmf["free_energy_kj_mol"].to_numpy(),
        params.rates["reactant"],
        params.rates["product"],
        np.load(snakemake.input["mbar_bootstrap"]),
        params.temperature_k,
        mass,
    )
    result["all_paths_rate_constant_per_s"] = sum(
        path["rate_constant_per_s"] for path in result["paths"]
    )
    for path in result["paths"]:
        name = f"MBAR, path over {path['transition_state_cv']:g} {cv.unit}"
        rows.append((name, path["barrier_kj_mol"], path.get("barrier_uncertainty_kj_mol")))
        match = nearest_reference_path(path, reference.get("paths", []), cv.period)
        if match is not None:
            for key in ("barrier_kj_mol", "experiment_kj_mol"):
                if key in match:
                    path[f"reference_{key}"] = match[key]
            method = reference.get("method", "reference")
            rows.append((f"{method}, over {match['transition_state_cv']:g} {cv.unit}",
                         match["barrier_kj_mol"], None))  # fmt: skip
            if "experiment_kj_mol" in match:
                rows.append((f"experiment, over {match['transition_state_cv']:g} {cv.unit}",
                             match["experiment_kj_mol"], None))  # fmt: skip
if "barrier_kj_mol" in reference:
    result["reference_barrier_kj_mol"] = reference["barrier_kj_mol"]
    rows.append((reference.get("method", "reference"), reference["barrier_kj_mol"], None))
members = np.load(snakemake.input.mbar_members)
if len(members) > 1:  # the committee's members, each PMF reweighted to its potential
    pmf = pd.read_csv(snakemake.input["mbar"])
    spread = [
        barrier_and_rate(pmf["cv"].to_numpy(), member, np.zeros(len(member)),
                         params.temperature_k, params.rates["reactant"], params.rates["product"],
                         mass)
        for member in members
    ]  # fmt: skip
    barriers = np.array([s["barrier_kj_mol"] for s in spread])
    rates = np.array([s["rate_constant_per_s"] for s in spread])
    result["member_barriers_kj_mol"] = barriers.tolist()
    result["barrier_model_uncertainty_kj_mol"] = float(barriers.std(ddof=1))
    result["barrier_total_uncertainty_kj_mol"] = float(
        np.hypot(result["barrier_uncertainty_kj_mol"], barriers.std(ddof=1))
    )
    result["rate_constant_model_range_per_s"] = [float(rates.min()), float(rates.max())]
    rows.append(("MBAR, committee members' spread", result["barrier_kj_mol"],
                 result["barrier_model_uncertainty_kj_mol"]))  # fmt: skip
if "transmission" in snakemake.input.keys():  # kappa x k_TST: the rate of the dynamics
    flux = read_json(snakemake.input.transmission)
    kappa, kappa_error = flux["kappa"], flux["kappa_uncertainty"]
    tst = result["rate_constant_per_s"]
    relative = np.hypot(result["rate_constant_uncertainty_per_s"] / tst, kappa_error / kappa)
    low, high = result.get("rate_constant_interval_per_s", [tst, tst])
    if "rate_constant_interval_per_s" in result:
        result["tst_rate_constant_interval_per_s"] = [low, high]
    result.update(
        kappa=kappa,
        kappa_uncertainty=kappa_error,
        tst_rate_constant_per_s=tst,
        tst_rate_constant_uncertainty_per_s=result["rate_constant_uncertainty_per_s"],
        rate_constant_per_s=kappa * tst,
        rate_constant_uncertainty_per_s=kappa * tst * relative,
        rate_constant_interval_per_s=[
            low * max(kappa - kappa_error, 0.0),
            high * (kappa + kappa_error),
        ],
    )
    result["wham_rate_constant_per_s"] *= kappa
    result["method"] += ", times the reactive-flux transmission coefficient kappa"
trust = read_json(snakemake.input.trust)
result["trusted"] = trust["trusted"]
result["untrusted_windows"] = trust["untrusted_windows"]
result["untrusted_centers"] = trust["untrusted_centers"]
write_json(result, snakemake.output.rates)
write_table(
    pd.DataFrame(rows, columns=["method", "barrier_kj_mol", "uncertainty_kj_mol"]),
    snakemake.output.barriers,
)
