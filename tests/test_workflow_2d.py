"""2D umbrella sampling through the whole workflow, on the Müller-Brown surface, whose
free energy is the surface itself (one atom held in the xy plane by a separable
restraint), so every output has an exact answer.

Tolerances: each bin's bootstrap error is its standard error, so the deviations from the
exact bin free energies (after the one free constant) should have chi2 per bin near 1; a
bound of 2.5 leaves room for the bootstrap's own scatter and for the decorrelated samples
not being quite independent, and still fails on a wrong bias (a missing second restraint
shifts bins by several kT) or on windows that never restrained the second CV.
"""

import json
import sys

import numpy as np
import pandas as pd
import pytest

from mlpmf.estimators2d import PMF2D
from mlpmf.units import ev_to_kj_mol, kt_kj_mol
from tests.workflow_helpers import REPO, run_snakemake

sys.path.insert(0, str(REPO / "resources" / "muller_brown"))
from muller_brown import surface  # noqa: E402

pytestmark = pytest.mark.workflow
KT = kt_kj_mol(300.0)
X_EDGES = np.linspace(-1.2, 0.9, 22)
Y_EDGES = np.linspace(-0.3, 1.8, 22)


def study_config():
    """The shipped Müller-Brown study on a smaller grid (8 x 8 windows), shorter."""
    import yaml

    config = yaml.safe_load((REPO / "config/studies/muller_brown_2d.yaml").read_text())
    config["system"]["structure"] = str(REPO / "resources/muller_brown/particle.xyz")
    config["oracle"]["calculator"] = str(REPO / "resources/muller_brown/muller_brown.py") + (
        ":MullerBrown"
    )
    config["reference"]["pmf_file"] = ""
    config["umbrella"].update(
        centers={"start": -1.2, "stop": 0.9, "num": 8}, steps=4000, equilibration_steps=500,
        windows_per_job=32,
    )  # fmt: skip
    config["umbrella"]["second_cv"]["centers"] = {"start": -0.3, "stop": 1.8, "num": 8}
    config["observables"]["y"]["bins"] = {"start": -0.3, "stop": 1.8, "num": 21}
    config["free_energy"]["bins"] = {"start": -1.2, "stop": 0.9, "num": 21}
    config["free_energy"]["bootstrap_samples"] = 40
    config["rates"] = {"reactant": [-1.2, -0.3], "product": [0.3, 0.9]}
    return config


def exact_bin_free_energies(points_per_bin=24):
    """-kT ln of the Boltzmann integral over every (x, y) bin, kJ/mol, minimum 0."""
    offsets = (np.arange(points_per_bin) + 0.5) / points_per_bin  # midpoints in a bin
    fine = [
        (edges[:-1, None] + np.diff(edges)[:, None] * offsets).ravel()
        for edges in (X_EDGES, Y_EDGES)
    ]
    energy = 0.001 * ev_to_kj_mol(surface(*np.meshgrid(*fine, indexing="ij"))[0])
    weights = np.exp(-(energy - energy.min()) / KT)
    shape = (len(X_EDGES) - 1, points_per_bin, len(Y_EDGES) - 1, points_per_bin)
    free = -KT * np.log(weights.reshape(shape).mean(axis=(1, 3)))
    return free - free.min()


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("muller_brown")
    result = run_snakemake(workdir, study_config())
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir / "results" / "muller_brown_2d"


def test_windows_restrain_both_cvs_on_the_grid(study):
    windows = pd.read_csv(study / "umbrella/windows.csv")
    assert len(windows) == 64
    assert sorted(set(windows["center_2"].round(6))) == pytest.approx(np.linspace(-0.3, 1.8, 8))
    for _, window in windows.iloc[[0, 27, 63]].iterrows():
        series = pd.read_csv(study / f"umbrella/window_{int(window['window']):03d}.csv")
        width = np.sqrt(KT / window["spring_constant"])  # the restraint alone
        assert abs(series["cv"].mean() - window["center"]) < 3 * width
        assert abs(series["cv_2"].mean() - window["center_2"]) < 3 * width
    diagnostics = json.loads((study / "free_energy/diagnostics.json").read_text())
    assert len(diagnostics["neighbour_pairs"]) == 2 * 8 * 7  # grid neighbours, both ways
    assert (study / "plots/pmf_2d.png").stat().st_size > 10_000


def test_2d_pmf_and_path_barrier_match_the_exact_surface(study):
    table = pd.read_csv(study / "free_energy/pmf_2d_mbar.csv")
    estimate = table["free_energy_kj_mol"].to_numpy().reshape(21, 21)
    error = table["uncertainty_kj_mol"].to_numpy().reshape(21, 21)
    exact = exact_bin_free_energies()
    low = (exact < 12.0) & np.isfinite(estimate) & (error > 0)
    assert low.sum() > 120  # the basins and the cols between them are filled
    difference = estimate[low] - exact[low]
    weights = 1 / error[low] ** 2
    difference -= np.sum(weights * difference) / np.sum(weights)
    chi2 = float(np.mean(difference**2 * weights))
    assert chi2 < 2.5, chi2
    # calibrated errors: 95% of the bins within 2 sigma if Gaussian; 0.85 is 4 binomial
    # standard deviations below for ~200 bins
    assert np.mean(np.abs(difference) * np.sqrt(weights) < 2.0) > 0.85

    summary = json.loads((study / "free_energy/pmf_2d_mbar.json").read_text())
    path = summary["path"]
    exact_surface = PMF2D(
        0.5 * (X_EDGES[1:] + X_EDGES[:-1]), 0.5 * (Y_EDGES[1:] + Y_EDGES[:-1]), exact,
        np.zeros_like(exact), np.ones_like(exact, int), np.zeros(1), (X_EDGES, Y_EDGES),
        300.0, np.empty((0, 21, 21)),
    )  # fmt: skip
    # the basins' lowest bins: exactly the lowest, or as low within the errors (a flat
    # basin's lowest bin may move by one); the exact barrier between the same bins
    for found, basin in (("reactant_minimum", (-1.2, -0.3)), ("product_minimum", (0.3, 0.9))):
        exact_lowest = exact_surface.lowest_bin_between(*basin)
        excess = (
            exact[exact_surface._bin_of(path[found])] - exact[exact_surface._bin_of(exact_lowest)]
        )
        assert excess < 1.0, (found, path[found], exact_lowest, excess)
    reactant, product = path["reactant_minimum"], path["product_minimum"]
    exact_barrier = exact_surface.path_barrier(reactant, product)[0]
    sigma = path["forward_barrier_uncertainty_kj_mol"]
    assert 0 < sigma < 1.5
    assert abs(path["forward_barrier_kj_mol"] - exact_barrier) < 3 * sigma


def test_projection_is_the_pmf_along_the_first_cv(study):
    table = pd.read_csv(study / "free_energy/pmf_mbar.csv")
    exact = exact_bin_free_energies()
    projected = -KT * np.log(np.exp(-exact / KT).sum(axis=1))
    projected -= projected.min()
    assert table["cv"].to_numpy() == pytest.approx(0.5 * (X_EDGES[1:] + X_EDGES[:-1]))
    difference = table["free_energy_kj_mol"].to_numpy() - projected
    difference -= difference.mean()
    assert np.sqrt(np.mean(difference**2)) < 0.3 * KT
    error = table["uncertainty_kj_mol"].to_numpy()
    assert np.all(error > 0) and np.mean((difference / error) ** 2) < 4.0
    bootstrap = np.load(study / "free_energy/pmf_mbar_bootstrap.npy")
    assert bootstrap.shape == (40, 21)
    rates = json.loads((study / "free_energy/rates.json").read_text())
    assert rates["barrier_kj_mol"] > 0


def test_windows_on_a_wrong_surface_give_the_oracles_through_their_labelled_frames(tmp_path):
    """The windows run on a Müller-Brown surface 40% too deep (an external potential, as
    a user's own MLIP would be); the oracle, the true surface, labels every 5th recorded
    frame. The oracle's checks see it: the run ends in the untrusted error, naming the
    windows whose free energy on the oracle lies far from the model's, after writing
    every result. The model's 2D PMF misses the true one by many standard errors; the
    PMF reweighted to the oracle lies on it within its errors (chi2/bin bound as above),
    on the surface and along x."""
    config = study_config()
    calculator = config["oracle"]["calculator"]
    config["potential"] = "ase"
    config["external_potential"] = [{"calculator": calculator, "parameters": {"scale": 0.0014}}]
    config["umbrella"]["oracle_every"] = 50
    result = run_snakemake(tmp_path, config)
    assert result.returncode != 0 and "UNTRUSTED" in result.stderr, result.stderr[-4000:]
    assert "the oracle's checks put the model's free energy" in result.stderr
    results = tmp_path / "results" / "muller_brown_2d"
    trust = json.loads((results / "free_energy/trust.json").read_text())
    assert trust["untrusted_windows"] and not any(
        w["oracle_agrees"] for w in trust["windows"] if w["window"] in trust["untrusted_windows"]
    )
    exact = exact_bin_free_energies()
    table = pd.read_csv(results / "free_energy/pmf_2d_mbar.csv")

    def deviation(column, error_column):
        free = table[column].to_numpy().reshape(exact.shape)
        error = table[error_column].to_numpy().reshape(exact.shape)
        filled = np.isfinite(free) & (exact < 12.0)  # the bins the windows sample well
        difference = free[filled] - exact[filled]
        difference -= np.average(difference, weights=1 / error[filled] ** 2)
        return np.sqrt(np.mean(difference**2)), np.mean((difference / error[filled]) ** 2)

    model_rms, model_chi2 = deviation("free_energy_kj_mol", "uncertainty_kj_mol")
    oracle_rms, oracle_chi2 = deviation("free_energy_oracle_kj_mol", "uncertainty_oracle_kj_mol")
    assert model_chi2 > 5.0 and oracle_chi2 < 2.5
    assert oracle_rms < 0.6 * model_rms
    series = pd.read_csv(results / "umbrella/window_000.csv")
    assert np.isfinite(series["oracle_energy_offset_ev"]).sum() == 4000 // 50
    projection = pd.read_csv(results / "free_energy/pmf_mbar.csv")
    projected = -KT * np.log(np.exp(-exact / KT).sum(axis=1))
    for column, bound in (("free_energy_kj_mol", 0.4), ("free_energy_oracle_kj_mol", 0.3)):
        difference = projection[column].to_numpy() - projected
        difference -= difference.mean()
        rms = np.sqrt(np.mean(difference**2))
        assert rms > bound * KT if column == "free_energy_kj_mol" else rms < bound * KT
