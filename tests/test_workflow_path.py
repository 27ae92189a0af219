"""The whole workflow on a study that names no CV: the double-well dimer from its two
minima, the path built by rule build_path (and refined at 300 K by rule refine_path in
a second study), the windows along its progress s. The PMF
along s is exact here too: for a dimer superposed on each image, s depends on the bond
length r alone, so F(s) = F(r(s)) + kT ln |ds/dr| (averaged over each bin).

Bounds as in tests/test_workflow.py: MBAR's errors here are ~0.15-0.2 kT per bin and
correlated between neighbours, so the RMS deviation from the exact PMF is ~0.1 kT (0.08
measured with 12,000 steps per window) and 0.3 kT leaves a 3-sigma margin.
"""

import json

import numpy as np
import pandas as pd
import pytest
from ase.io import read, write

from mlpmf.analytic import double_well_exact_pmf
from mlpmf.cvsettings import make_colvar
from mlpmf.units import ev_to_kj_mol, kt_kj_mol
from tests.workflow_helpers import DIMER, run_snakemake

pytestmark = pytest.mark.workflow
KT = kt_kj_mol(300.0)
WELL = {"barrier_ev": 0.15, "r_mid": 3.2, "half_width": 0.45}  # minima at 2.75 and 3.65


def dimer_path_config(workdir, **extra) -> dict:
    """The dimer from its near minimum to a stretched structure, windows along s."""
    product = read(DIMER)
    product.positions[1, 0] = 3.5  # relaxed to the far minimum by the workflow
    write(workdir / "stretched.xyz", product)
    config = {
        "study": "dimer_path",
        "seed": 11,
        "temperature_k": 300.0,
        "system": {"structure": str(DIMER)},
        "oracle": {"kind": "double_well_bond", **WELL},
        "potential": "oracle",
        "collective_variable": {"kind": "path", "product": str(workdir / "stretched.xyz")},
        "observables": {
            "bond": {
                "kind": "distance",
                "atoms": [0, 1],
                "bins": {"start": 2.6, "stop": 3.8, "num": 24},
            },
        },  # fmt: skip
        "umbrella": {"steps": 8000, "timestep_fs": 1.0, "windows_per_job": "all"},
    }
    config["collective_variable"].update(extra)
    return config


@pytest.fixture(scope="module")
def path_study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("path")
    result = run_snakemake(workdir, dimer_path_config(workdir))
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir, workdir / "results" / "dimer_path"


def test_the_built_path_runs_through_both_minima_over_the_saddle(path_study):
    _, results = path_study
    summary = json.loads((results / "path/path.json").read_text())
    assert summary["barrier_kj_mol"] == pytest.approx(ev_to_kj_mol(WELL["barrier_ev"]), abs=0.05)
    images = read(results / "path/images.extxyz", index=":")
    bonds = [image.get_distance(0, 1) for image in images]
    assert len(images) == 11 and np.all(np.diff(bonds) > 0)
    assert bonds[1] == pytest.approx(2.75, abs=0.01) and bonds[-2] == pytest.approx(3.65, abs=0.01)


def exact_pmf_along_s(workdir, edges, images="images.extxyz"):
    """The exact PMF averaged over each bin of s, from F(r) and the path CV's s(r)."""
    cv = make_colvar(
        {
            "kind": "path",
            "atoms": [0, 1],
            "images": str(workdir / "results/dimer_path/path" / images),
            "resample_images": 11,
        }  # fmt: skip
    )
    r = np.linspace(2.3, 4.1, 36001)
    dimers = np.zeros((len(r), 2, 3))
    dimers[:, 1, 0] = r
    s = cv.values(dimers)
    weight = np.exp(-double_well_exact_pmf(r, 300.0, **WELL) / KT) * (r[1] - r[0])
    probability, _ = np.histogram(s, bins=edges, weights=weight)
    return -KT * np.log(probability / np.diff(edges))


@pytest.fixture(scope="module")
def refined_study(tmp_path_factory):
    """The same study with its path refined at 300 K before the windows."""
    workdir = tmp_path_factory.mktemp("refined")
    refine = {"iterations": 3, "tolerance_a": 0.004, "steps": 1000, "equilibration_steps": 200}
    config = dimer_path_config(workdir, refine=refine)
    config["umbrella"]["steps"] = 3000  # checked by its own error bars only (the barrier)
    result = run_snakemake(workdir, config)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir, workdir / "results" / "dimer_path"


def test_the_pmf_along_s_is_the_exact_one_mapped_onto_s(path_study):
    workdir, results = path_study
    table = pd.read_csv(results / "free_energy/pmf_mbar.csv")
    width = table["cv"].diff().median()
    edges = np.append(table["cv"] - width / 2, table["cv"].iloc[-1] + width / 2)
    error = table["free_energy_kj_mol"] - exact_pmf_along_s(workdir, edges)
    assert np.sqrt(np.mean((error - error.mean()) ** 2)) < 0.3 * KT


def test_the_refined_path_stops_moving_and_still_joins_the_two_minima(refined_study):
    """A dimer's path cannot bend: at 300 K its images stay on the bond, in order, the
    relaxed ends within the wells' thermal spread (sqrt(kT/k) ~ 0.02 Å here) of the
    minima, and the refinement stops as soon as no image moves by the tolerance."""
    _, results = refined_study
    summary = json.loads((results / "path/refinement.json").read_text())
    moves = [record["largest_move_a"] for record in summary["iterations"]]
    assert summary["converged"] and moves[-1] < 0.004
    assert all(move >= 0.004 for move in moves[:-1])  # it went on while the path moved
    for record in summary["iterations"]:
        folder = results / f"path/refinement/iteration_{record['iteration']:02d}"
        assert len(read(folder / "images.extxyz", index=":")) == 11
        assert np.isfinite(pd.read_csv(folder / "pmf_mbar.csv")["free_energy_kj_mol"]).sum() > 30
    bonds = [image.get_distance(0, 1) for image in read(results / "path/refined.extxyz", ":")]
    assert np.all(np.diff(bonds) > 0)
    assert bonds[1] == pytest.approx(2.75, abs=0.04) and bonds[-2] == pytest.approx(3.65, abs=0.04)


def test_the_pmf_along_the_bond_reweighted_from_the_path_windows_is_exact(path_study):
    _, results = path_study
    table = pd.read_csv(results / "free_energy/pmf_observable_bond.csv")
    table = table[np.isfinite(table["free_energy_kj_mol"])]
    error = table["free_energy_kj_mol"] - double_well_exact_pmf(
        table["observable"].to_numpy(), 300.0, **WELL
    )
    assert len(table) >= 20
    assert np.sqrt(np.mean((error - error.mean()) ** 2)) < 0.3 * KT


@pytest.mark.parametrize("study, images", [("path", "images"), ("refined", "refined")])
def test_the_barrier_between_the_default_basins_is_the_exact_one_along_s(study, images, request):
    """The basins the path's defaults set (s 0.04-0.2 and 0.8-0.96 round the relaxed
    ends at 0.1 and 0.9): the barrier between them is the exact PMF's along s, within 3
    of its error bars and the bins' width (0.02 in s); along the built path, and along
    the refined one that the windows and rates of the second study ran on."""
    workdir, results = request.getfixturevalue(f"{study}_study")
    rates = json.loads((results / "free_energy/rates.json").read_text())
    edges = np.linspace(0.04, 0.96, 47)
    exact = exact_pmf_along_s(workdir, edges, f"{images}.extxyz")
    middle = 0.5 * (edges[1:] + edges[:-1])
    start = np.argmin(np.where(middle <= 0.2, exact, np.inf))
    end = np.argmin(np.where(middle >= 0.8, exact, np.inf))
    barrier = exact[start:end].max() - exact[start]
    assert rates["reactant_minimum_cv"] == pytest.approx(0.1, abs=0.03)
    assert rates["product_minimum_cv"] == pytest.approx(0.9, abs=0.03)
    assert abs(rates["barrier_kj_mol"] - barrier) < 3 * rates["barrier_uncertainty_kj_mol"] + 0.3
    assert rates["rate_constant_per_s"] > 0
