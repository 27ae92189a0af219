"""A study whose path the workflow builds from two structures: what mlpmf.pathstudy fills
in (and keeps), the errors it names, and how the rules see the built path's settings."""

import copy

import numpy as np
import pytest
from ase import Atoms
from ase.io import write

from mlpmf.config import ConfigError
from mlpmf.pathstudy import complete_path_study, images_path, spring_constant
from mlpmf.scope import cv_settings, rule_settings
from mlpmf.units import kt_kj_mol
from tests.workflow_helpers import REPO

SLAB = REPO / "resources" / "au_al100" / "initial.extxyz"  # 28 atoms, 9 fixed, periodic in x y


@pytest.fixture
def molecule(tmp_path):
    """A free triatomic and its bent isomer in two files."""
    reactant = Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    product = reactant.copy()
    product.positions[2] = [-0.24, -0.93, 0]
    write(tmp_path / "a.xyz", reactant)
    write(tmp_path / "b.xyz", product)
    return tmp_path


def two_ends(directory, **cv) -> dict:
    return {
        "study": "ends",
        "temperature_k": 300.0,
        "system": {"structure": str(directory / "a.xyz")},
        "oracle": {"kind": "emt"},
        "collective_variable": {"kind": "path", "product": str(directory / "b.xyz"), **cv},
    }


def test_a_molecule_path_compares_every_atom_after_superposition(molecule):
    config = two_ends(molecule)
    complete_path_study(config)
    cv = config["collective_variable"]
    assert cv["atoms"] == [0, 1, 2] and cv["align"] is True
    assert cv["reactant"] == config["system"]["structure"]
    assert cv["images"] == images_path("ends") == "results/ends/path/images.extxyz"
    assert cv["resample_images"] == 11  # the band's 9 images and one past each end


def test_a_slab_path_compares_the_free_atoms_in_the_held_frame(tmp_path):
    config = {
        "study": "hop",
        "system": {"structure": str(SLAB), "fixed_atoms": [9]},
        "collective_variable": {"kind": "path", "product": str(SLAB), "build": {"images": 7}},
    }
    complete_path_study(config)
    cv = config["collective_variable"]
    assert cv["atoms"] == list(range(10, 28))  # the file fixes 0-8, the study 9
    assert cv["align"] is False
    assert cv["resample_images"] == 9
    # relaxed ends at s = 1/8 and 7/8: the basins reach one image spacing beyond them
    assert config["rates"] == {"reactant": [0.04, 0.25], "product": [0.75, 0.96]}


def test_the_windows_bins_and_basins_span_s_inside_its_ends(molecule):
    config = two_ends(molecule, resample_images=11)
    complete_path_study(config)
    centers = config["umbrella"]["centers"]
    grid = np.linspace(centers["start"], centers["stop"], centers["num"])
    assert 0 < grid[0] < 0.1 and 0.9 < grid[-1] < 1  # both relaxed ends inside the windows
    width = np.sqrt(kt_kj_mol(300.0) / config["umbrella"]["spring_constant_kj_mol"])
    assert width == pytest.approx(0.75 * np.diff(grid).mean(), rel=0.01)
    bins = config["free_energy"]["bins"]
    assert (bins["start"], bins["stop"]) == (centers["start"], centers["stop"])
    assert config["rates"]["reactant"] == [0.04, 0.2]
    assert config["rates"]["product"] == [0.8, 0.96]


def test_a_hotter_study_gets_stiffer_springs_of_the_same_width():
    centers = {"start": 0.1, "stop": 0.9, "num": 9}
    assert spring_constant(centers, 600.0) == pytest.approx(
        2 * spring_constant(centers, 300.0), rel=0.01
    )


def test_what_the_study_gives_is_kept(molecule):
    config = two_ends(molecule, atoms=[0, 2], align=False)
    config["umbrella"] = {"centers": [0.2, 0.5, 0.8], "spring_constant_kj_mol": 900.0}
    config["rates"] = {"reactant": [0.1, 0.3], "product": [0.7, 0.9]}
    given = copy.deepcopy(config)
    complete_path_study(config)
    assert config["collective_variable"]["atoms"] == [0, 2]
    assert config["collective_variable"]["align"] is False
    assert config["umbrella"] == given["umbrella"] and config["rates"] == given["rates"]
    again = copy.deepcopy(config)
    complete_path_study(again)  # completing twice changes nothing
    assert again == config


def test_other_studies_are_left_as_they_are():
    config = {"collective_variable": {"kind": "distance", "atoms": [0, 1]}, "umbrella": {}}
    given = copy.deepcopy(config)
    complete_path_study(config)
    assert config == given
    complete_path_study({"collective_variable": "path"})  # the schema names this one


@pytest.mark.parametrize(
    "cv, message",
    [
        ({"images": "mine.extxyz"}, "collective_variable.images: give your own path"),
        ({"product": "", "reactant": "a.xyz"}, "collective_variable.product: a path built"),
        ({"product": "nowhere.xyz", "reactant": "nowhere.xyz"}, "collective_variable.reactant"),
    ],
)
def test_a_path_given_badly_is_named(molecule, cv, message):
    config = two_ends(molecule)
    config["collective_variable"].update(cv)
    with pytest.raises(ConfigError, match=message):
        complete_path_study(config)


def test_rules_see_a_built_path_by_its_build_settings_not_its_file(molecule):
    """The images are rule build_path's output, an input of each rule that builds the
    CV: their digest is no setting (it would change once they are built and rerun
    everything); the ends and how the band is built are."""
    config = two_ends(molecule)
    complete_path_study(config)
    settings = cv_settings(config["collective_variable"])
    assert "images_sha256" not in settings
    assert settings["build"]["candidates"] == 3  # its defaults, as the schema's
    assert settings["product"] == str(molecule / "b.xyz")
    own = {"kind": "path", "atoms": [0, 1], "images": str(SLAB), "product": "", "build": {}}
    assert "images_sha256" in cv_settings(own) and "build" not in cv_settings(own)


def test_build_path_reads_how_the_band_is_built_and_the_oracle_only(molecule):
    config = two_ends(molecule)
    complete_path_study(config)
    config["system"]["fixed_atoms"] = []
    config["collective_variable"]["build"] = {"images": 7}
    params = rule_settings(config, "build_path")
    assert params == {
        "system": {"fixed_atoms": []},
        "oracle": {"kind": "emt"},
        "collective_variable": {"build": {"images": 7}},
    }


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["collective_variable"].update(component="distance"), "component: progress"),
        (lambda c: c["umbrella"].update(second_cv={"observable": "z"}), "umbrella.second_cv"),
    ],
)
def test_a_refinement_the_windows_cannot_do_is_named(molecule, change, message):
    config = two_ends(molecule, refine={"iterations": 2})
    config["umbrella"] = {}
    change(config)
    with pytest.raises(ConfigError, match=f"collective_variable.refine: .*{message}"):
        complete_path_study(config)


def test_with_refinement_the_windows_rates_and_shots_run_on_the_refined_path(molecule):
    """The reference data and active learning keep the first path (the refinement runs
    on their model); the windows, rates and transmission get the refined one, and only
    rule refine_path reads how it is refined."""
    from snakemake.utils import validate

    config = two_ends(molecule, refine={"iterations": 2, "steps": 500})
    config.update(seed=1, potential="committee")
    complete_path_study(config)
    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))  # its defaults
    refined = "results/ends/path/refined.extxyz"
    for rule in ("umbrella_window", "transmission", "rates"):
        assert rule_settings(config, rule)["collective_variable"]["images"] == refined
        assert "refine" not in rule_settings(config, rule)["collective_variable"]
    for rule in ("sample_reference", "active_learning"):
        assert rule_settings(config, rule)["collective_variable"]["images"] == images_path("ends")
    refine = rule_settings(config, "refine_path")["collective_variable"]["refine"]
    assert refine["iterations"] == 2 and refine["steps"] == 500
    assert refine["tolerance_a"] == 0.05  # the defaults filled in: writing them reruns nothing
    config["collective_variable"]["refine"]["iterations"] = 0
    assert rule_settings(config, "umbrella_window")["collective_variable"]["images"] == (
        images_path("ends")
    )


def test_a_one_atom_path_is_compared_as_it_stands(tmp_path):
    """One atom has nothing to superpose: superposed, every image would be the same."""
    from mlpmf.pathcv import PathCV

    write(tmp_path / "a.xyz", Atoms("Ar", positions=[[0.0, 0.0, 0.0]]))
    write(tmp_path / "b.xyz", Atoms("Ar", positions=[[1.0, 0.5, 0.0]]))
    config = two_ends(tmp_path)
    complete_path_study(config)
    assert config["collective_variable"]["align"] is False
    images = np.array([[[0.0, 0.0, 0.0]], [[1.0, 0.5, 0.0]]])
    with pytest.raises(ValueError, match="collective_variable.align: one path atom"):
        PathCV((0,), images)
