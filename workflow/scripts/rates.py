"""Barrier and rate constants from the MBAR and WHAM PMFs, errors from their bootstraps.

On a periodic CV both ways round the circle are parallel channels (``paths``): the
headline barrier is the dominant path's, the rate constant their sum. Kramers' factor is
evaluated at the friction of the dynamics the rate is for: the windows', or with the
transmission stage the shots' (where kappa by reactive flux is the rate's own).
"""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np
import pandas as pd
from ase.io import read

from mlpmf.colvars import effective_mass_amu, periodic_difference
from mlpmf.cvsettings import make_colvar
from mlpmf.io import read_json, write_json, write_table
from mlpmf.rates import barrier_and_rate
from mlpmf.transmission import with_transmission

params = snakemake.params
structure = read(snakemake.input.structure)
cv = make_colvar(params.collective_variable, structure)
mass = effective_mass_amu(cv, structure.positions, structure.get_masses())
flux = read_json(snakemake.input.transmission) if "transmission" in snakemake.input.keys() else None
friction = params.umbrella["friction_per_fs"] if flux is None else flux["friction_per_fs"]


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


def analyse(table, replicas=None):
    return barrier_and_rate(
        table["cv"].to_numpy(),
        table["free_energy_kj_mol"].to_numpy(),
        table["uncertainty_kj_mol"].to_numpy(),
        params.temperature_k,
        params.rates["reactant"],
        params.rates["product"],
        mass,
        friction_per_fs=friction,
        bootstrap_free_energies_kj_mol=replicas,
        period=cv.period,
    )


mbar = pd.read_csv(snakemake.input.mbar)
result = analyse(mbar, np.load(snakemake.input.mbar_bootstrap))
result["method"] = "MBAR PMF, " + result["method"]
wham = analyse(pd.read_csv(snakemake.input.wham), np.load(snakemake.input.wham_bootstrap))
if flux is not None:  # kappa x k_TST: the rate of the dynamics
    result = with_transmission(result, flux)
    wham = with_transmission(wham, flux)
for key in ("barrier_kj_mol", "barrier_uncertainty_kj_mol", "rate_constant_per_s"):
    result[f"wham_{key}"] = wham[key]
rows = [
    ("MBAR", result["barrier_kj_mol"], result["barrier_uncertainty_kj_mol"]),
    ("WHAM", wham["barrier_kj_mol"], wham["barrier_uncertainty_kj_mol"]),
]
reference = read_json(snakemake.input.reference) if "reference" in snakemake.input.keys() else {}
for path in result.get("paths", []):  # both ways round a periodic CV
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
if result.get("paths"):  # the headline's reference: the dominant path's, where known
    dominant = result["paths"][result["dominant_path"]]
    if "reference_barrier_kj_mol" in dominant:
        result["reference_barrier_kj_mol"] = dominant["reference_barrier_kj_mol"]
if "barrier_kj_mol" in reference and "reference_barrier_kj_mol" not in result:
    result["reference_barrier_kj_mol"] = reference["barrier_kj_mol"]
    rows.append((reference.get("method", "reference"), reference["barrier_kj_mol"], None))
members = np.load(snakemake.input.mbar_members)
if len(members) > 1:  # the committee's members, each PMF reweighted to its potential
    spread = [analyse(mbar.assign(free_energy_kj_mol=member, uncertainty_kj_mol=0.0))
              for member in members]  # fmt: skip
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
trust = read_json(snakemake.input.trust)
result["trusted"] = trust["trusted"]
result["untrusted_windows"] = trust["untrusted_windows"]
result["untrusted_centers"] = trust["untrusted_centers"]
write_json(result, snakemake.output.rates)
write_table(
    pd.DataFrame(rows, columns=["method", "barrier_kj_mol", "uncertainty_kj_mol"]),
    snakemake.output.barriers,
)
