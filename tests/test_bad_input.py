"""Bad input gives an error that names the problem and the key or file.

The in-process checks run the same validation the Snakefile runs (Snakemake's JSON
Schema validation, then mlpmf.config.check_study); test_config_validation.py runs the
real workflow on a selection of the same mistakes.
"""

import copy

import numpy as np
import pytest
import yaml
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from hypothesis import given, settings
from hypothesis import strategies as st
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from mlpmf.analytic import DoubleWellBond
from mlpmf.config import ConfigError, read_structure
from mlpmf.dataset import check_labelled_frames
from mlpmf.dynamics import LangevinSettings, SimulationError, run_langevin
from mlpmf.studycheck import check_study
from tests.workflow_helpers import DIMER, REPO, double_well_study

SCHEMA = str(REPO / "workflow/schemas/config.schema.yaml")


def validated(config):
    """The config after the Snakefile's checks; raises on any problem."""
    from mlpmf.pathstudy import complete_path_study

    config = copy.deepcopy(config)
    complete_path_study(config)
    validate(config, SCHEMA)
    check_study(config)
    return config


def leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    else:
        yield path, node


VALID = double_well_study()
LEAVES = list(leaves(VALID))


def wrong_type(value):
    """A value of a type the schema cannot accept where ``value`` stands."""
    if isinstance(value, bool | str):
        return 12345 if isinstance(value, str) else "yes"
    if isinstance(value, int | float):
        return "not a number"
    return "not a list"


def test_the_valid_study_passes():
    validated(VALID)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(LEAVES))
def test_a_wrong_type_anywhere_is_named(leaf):
    path, value = leaf
    config = copy.deepcopy(VALID)
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = wrong_type(value)
    with pytest.raises((WorkflowError, ConfigError)) as error:
        validated(config)
    assert str(path[-1]) in str(error.value)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([p for p, _ in LEAVES]), st.text("abcdefghijklmnopqrstuvwxyz_", min_size=3))
def test_an_unknown_key_anywhere_is_named(path, name):
    config = copy.deepcopy(VALID)
    node = config
    for key in path[:-1]:
        node = node[key]
    if name in node:
        return
    node[name] = 1
    with pytest.raises(WorkflowError) as error:
        validated(config)
    assert name in str(error.value)


@pytest.mark.parametrize(
    "change, pattern",
    [
        (
            {"collective_variable": {"kind": "distance", "atoms": [0, 7]}},
            r"collective_variable.atoms",
        ),
        ({"system": {"structure": "x", "fixed_atoms": [3]}}, "system.structure"),
        ({"rates": {"reactant": [3.0, 2.5], "product": [3.4, 3.9]}}, "rates.reactant"),
        ({"rates": {"reactant": [2.5, 3.5], "product": [3.4, 3.9]}}, "overlap"),
        ({"free_energy": {"bins": {"start": 1.0, "stop": 3.9, "num": 10}}}, "free_energy.bins"),
        ({"temperature_k": 0.0}, "temperature_k"),
        ({"umbrella": {"spring_constant_kj_mol": [1.0, 2.0]}}, "spring_constant_kj_mol"),
        ({"dataset": {"explorer": {"kind": "xtb", "method": "dft"}}}, "dataset.explorer.method"),
        ({"dataset": {"explorer": {"kind": "pyscf", "method": "GFN2-xTB"}}}, "explorer.method"),
        (
            {"dataset": {"explorer": {"kind": "ase", "calculator": "no_such_module:Calc"}}},
            "dataset.explorer.calculator",
        ),
    ],
)
def test_inconsistent_settings_are_named(change, pattern):
    config = copy.deepcopy(VALID)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key].update(value)
        else:
            config[key] = value
    with pytest.raises((WorkflowError, ConfigError), match=pattern):
        validated(config)


def test_start_frames_missing_unreadable_or_of_another_system_are_named(tmp_path):
    config = copy.deepcopy(VALID)
    config["umbrella"]["start_frames"] = str(tmp_path / "none.extxyz")
    with pytest.raises(ConfigError, match=r"umbrella.start_frames: no file .*none.extxyz"):
        validated(config)
    other = tmp_path / "other.extxyz"
    Atoms("Ne2", positions=[[0, 0, 0], [3.0, 0, 0]]).write(other)
    config["umbrella"]["start_frames"] = str(other)
    with pytest.raises(ConfigError, match=r"umbrella.start_frames: no frame .*Ar2"):
        validated(config)
    good = tmp_path / "good.extxyz"
    Atoms("Ar2", positions=[[0, 0, 0], [3.0, 0, 0]]).write(good)
    config["umbrella"]["start_frames"] = str(good)
    validated(config)


@pytest.mark.parametrize("content", ["", "this is not a structure\n", "3\n\nAr 0 0\n"])
def test_broken_or_empty_structure_files_are_named(tmp_path, content):
    path = tmp_path / "broken.xyz"
    path.write_text(content)
    with pytest.raises(ConfigError, match=r"system.structure.*broken.xyz"):
        read_structure(path)


def test_training_data_with_nan_forces_is_named():
    frames = []
    for r in (2.8, 3.0, 3.2):
        atoms = Atoms("Ar2", positions=[[0, 0, 0], [r, 0, 0]])
        forces = np.zeros((2, 3))
        if r == 3.0:
            forces[1, 0] = np.nan
        atoms.calc = SinglePointCalculator(atoms, energy=0.1, forces=forces)
        frames.append(atoms)
    with pytest.raises(ValueError, match=r"train.extxyz: frame 1 has a non-finite"):
        check_labelled_frames(frames, "results/x/dataset/train.extxyz")


def test_md_that_blows_up_stops_at_once_and_says_when():
    dimer = Atoms("Ar2", positions=[[0, 0, 0], [3.0, 0, 0]])
    dimer.calc = DoubleWellBond(barrier_ev=0.15, r_mid=3.2, half_width=0.45)
    with pytest.raises(SimulationError, match=r"non-finite forces or positions at step \d+"):
        with np.errstate(all="ignore"):
            run_langevin(dimer, LangevinSettings(300.0, 500.0, 0.01), 200, np.random.default_rng(0))


def test_study_files_shipped_in_the_repository_are_valid():
    for path in [REPO / "config/config.yaml", *sorted((REPO / "config/studies").glob("*.yaml"))]:
        config = yaml.safe_load(path.read_text())
        config["system"]["structure"] = str(REPO / config["system"]["structure"])
        for key in ("barrier_file", "pmf_file"):
            if config.get("reference", {}).get(key):
                config["reference"][key] = str(REPO / config["reference"][key])
        if config["collective_variable"].get("product"):  # a path the workflow builds
            cv = config["collective_variable"]
            cv["product"] = str(REPO / cv["product"])
        validated(config)


def test_atoms_flying_apart_under_the_committee_are_stopped_with_an_error():
    import torch

    from mlpmf.calculator import CommitteeCalculator, IsolatedAtomError
    from mlpmf.descriptors import Descriptor
    from mlpmf.models import Committee

    descriptor = Descriptor((18,), 6, 5.0, num_angular_sections=0)
    committee = Committee(
        descriptor, 2, [4], torch.zeros(1, 6), torch.ones(1, 6), torch.zeros(1), 0.1
    )
    dimer = Atoms("Ar2", positions=[[0, 0, 0], [3.0, 0, 0]])
    dimer.calc = CommitteeCalculator(committee)
    dimer.get_forces()
    dimer.positions[1, 0] = 8.0  # beyond the 5 Å cutoff
    with pytest.raises(IsolatedAtomError, match=r"atoms \[0, 1\] have no neighbour.*flew apart"):
        dimer.get_forces()


def changed(**sections):
    """VALID with sections updated (a dotted key ``umbrella__centers`` reaches inside)."""
    config = copy.deepcopy(VALID)
    for key, value in sections.items():
        section, _, name = key.partition("__")
        if name:
            config[section][name] = value
        else:
            config[section] = value
    return config


@pytest.mark.parametrize(
    "config, pattern",
    [
        (  # a parameter an ASE calculator's **kwargs would swallow
            changed(
                oracle={
                    "kind": "ase",
                    "calculator": "ase.calculators.lj:LennardJones",
                    "parameters": {"sigmma": 3.4},
                }  # fmt: skip
            ),
            r"oracle.parameters: .*LennardJones has no parameter 'sigmma'; expected some of "
            r".*'sigma'",
        ),
        (  # the same window twice
            changed(umbrella__centers=[2.5, 2.7, 2.9, 2.7, 3.1, 3.3, 3.5, 3.7, 3.9]),
            r"umbrella.centers: windows 1 and 3 are the same window",
        ),
        (  # a CV of fixed atoms
            changed(system={"structure": str(DIMER), "fixed_atoms": [0, 1]}),
            r"collective_variable.atoms: every atom of the CV \(\[0, 1\]\) is held fixed",
        ),
        (  # a window where the CV cannot go
            changed(umbrella__centers=[-0.5, 0.0, 0.5, 1.0, 2.5, 3.9]),
            r"umbrella.centers: \[-0.5\] lie outside the range of a distance CV",
        ),
        (
            changed(oracle={"kind": "xtb", "charge": 0, "multiplicity": 2}),
            r"oracle.multiplicity: 2 does not fit 36 electrons .*expected an odd",
        ),
        (changed(umbrella__record_every=10**6), r"umbrella.record_every: 1000000 exceeds"),
        (
            changed(reference={"pmf_file": str(REPO / "resources/h2o2/reference_barrier.json")}),
            r"reference.pmf_file: .*reference_barrier.json",
        ),
        (
            changed(reference={"barrier_file": str(REPO / "resources/nh3/oracle_pmf_mbar.csv")}),
            r"reference.barrier_file: cannot read .*oracle_pmf_mbar.csv. as JSON",
        ),
    ],
)
def test_mistakes_are_named_before_any_job(config, pattern):
    with pytest.raises((WorkflowError, ConfigError), match=pattern):
        validated(config)


def test_a_reference_table_without_the_pmf_columns_is_named(tmp_path):
    table = tmp_path / "reference.csv"
    table.write_text("phi,F\n-180,0\n0,30\n")
    with pytest.raises(ConfigError, match=r"has columns \['phi', 'F'\]; expected \['cv', "):
        validated(changed(reference={"pmf_file": str(table)}))


def test_atoms_on_top_of_each_other_are_named(tmp_path):
    path = tmp_path / "broken.xyz"
    Atoms("Ar3", positions=[[0, 0, 0], [3.0, 0, 0], [3.1, 0, 0]]).write(path)
    with pytest.raises(ConfigError, match=r"atoms 1 and 2 of .*broken.xyz. lie 0.10 Å apart"):
        validated(changed(system={"structure": str(path), "fixed_atoms": []}))


def test_implausible_md_settings_are_warned_about_not_refused(tmp_path):
    """Legal settings that an MD of this system will hardly survive or use well: a time
    step too long for its lightest moving atom, windows too far apart to overlap."""
    from ase.build import molecule

    assert check_study(validated(VALID)) == []  # Ar at 1 fs: fine
    path = tmp_path / "water.xyz"
    molecule("H2O").write(path)
    config = changed(
        system={"structure": str(path), "fixed_atoms": []},
        collective_variable={"kind": "distance", "atoms": [0, 1]},
        umbrella__timestep_fs=2.0,
        umbrella__centers=[0.9, 1.0, 1.1, 2.5],
        umbrella__spring_constant_kj_mol=5000.0,
        free_energy={"bins": {"start": 0.9, "stop": 2.5, "num": 16}},
        rates={"reactant": [0.9, 1.0], "product": [1.1, 2.5]},
    )
    text = " ".join(check_study(validated(config)))
    assert "umbrella.timestep_fs: 2 fs is long for H" in text
    assert "umbrella.centers: 1.1 and 2.5 lie" in text and "overlap little" in text


def test_a_yaml_mistake_names_the_file_and_line(tmp_path):
    from mlpmf.cli import main
    from mlpmf.config import load_study_file

    path = tmp_path / "study.yaml"
    path.write_text("study: x\nseed: 1\n  temperature_k: 300\n")
    with pytest.raises(ConfigError, match=rf"{path}:3:16: not valid YAML: mapping values"):
        load_study_file(path)
    assert main(["check", str(path)]) == 2
    assert main(["check", str(REPO / "config/studies/double_well_bond.yaml")]) == 0
