"""Bad study configs fail before any job runs, naming the problem.

"Fast" is asserted as behaviour, not wall time (CI machines differ by 5x): the run stops
while the config is read, before Snakemake builds the job graph or creates its
`.snakemake` folder, so nothing but the study file is in the working directory.
"""

import re

import pytest

from tests.workflow_helpers import REPO, double_well_study, run_snakemake


def misspelled_key():
    config = double_well_study()
    config["temprature_k"] = config.pop("temperature_k")
    return config


def nested_misspelled_key():
    config = double_well_study()
    config["umbrella"]["spring_constant"] = config["umbrella"].pop("spring_constant_kj_mol")
    return config


CASES = {
    "misspelled key": (misspelled_key, "temprature_k"),
    "misspelled nested key": (nested_misspelled_key, "spring_constant"),
    "negative temperature": (lambda: double_well_study(temperature_k=-5.0), "temperature_k"),
    "missing structure file": (
        lambda: double_well_study(system={"structure": "/nonexistent/dimer.xyz"}),
        "system.structure.*/nonexistent/dimer.xyz.*does not exist",
    ),
    "atom index out of range": (
        lambda: double_well_study(collective_variable={"kind": "distance", "atoms": [0, 5]}),
        r"collective_variable.atoms.*\[5\] out of range",
    ),
    "path cv without its images": (
        lambda: double_well_study(
            collective_variable={"kind": "path", "atoms": [0, 1], "images": "nowhere.extxyz"}
        ),
        r"collective_variable.images: no file 'nowhere.extxyz'",
    ),
    "path product of other atoms": (
        lambda: double_well_study(
            collective_variable={
                "kind": "path",
                "product": str(REPO / "resources/malonaldehyde/product.xyz"),
            }
        ),
        r"collective_variable.product: .*product.xyz' holds C3H4O2 \(9 atoms\); expected "
        r"the atoms of system.structure in the same order \(Ar2\)",
    ),
    "path given both ways": (
        lambda: double_well_study(
            collective_variable={"kind": "path", "product": "b.xyz", "images": "a.extxyz"}
        ),
        "collective_variable.images: give your own path",
    ),
    "overlapping basins": (
        lambda: double_well_study(rates={"reactant": [2.5, 3.3], "product": [3.2, 3.9]}),
        "overlap",
    ),
    "bins outside windows": (
        lambda: double_well_study(free_energy={"bins": {"start": 2.0, "stop": 3.9, "num": 40}}),
        "free_energy.bins",
    ),
    "oracle checks off the recorded frames": (
        lambda: double_well_study(potential="committee", umbrella__oracle_every=25),
        "umbrella.oracle_every: 25 is not a multiple of umbrella.record_every",
    ),
    "oracle checks of the oracle": (
        lambda: double_well_study(umbrella__oracle_every=20),
        "umbrella.oracle_every: the oracle itself drives the windows",
    ),
    "empty list of window centres": (
        lambda: double_well_study(umbrella__centers=[]),
        r"instance\['umbrella'\]\['centers'\]",
    ),
    "empty list of atoms": (
        lambda: double_well_study(collective_variable={"kind": "distance", "atoms": []}),
        r"instance\['collective_variable'\]\['atoms'\]",
    ),
    "missing reference PMF": (
        lambda: double_well_study(reference={"pmf_file": "/nonexistent/ref.csv"}),
        r"reference.pmf_file: no file '/nonexistent/ref.csv'; .*oracle_reference.py",
    ),
    "unknown oracle": (
        lambda: double_well_study(oracle={"kind": "dft"}),
        "dft",
    ),
    "minimum image without a cell": (
        lambda: double_well_study(
            collective_variable={"kind": "distance", "atoms": [0, 1], "minimum_image": True}
        ),
        "collective_variable.minimum_image: needs a structure with a periodic cell",
    ),
    "second group out of range": (
        lambda: double_well_study(
            collective_variable={
                "kind": "coordination_number",
                "atoms": [0],
                "other_atoms": [1, 7],
            }  # fmt: skip
        ),
        r"collective_variable.other_atoms: atom indices \[7\] out of range",
    ),
    "second cv not an observable": (
        lambda: double_well_study(umbrella__second_cv={"observable": "psi"}),
        r"umbrella.second_cv.observable: no observable 'psi'",
    ),
    "second cv with adaptive windows": (
        lambda: {
            **double_well_study(
                observables={
                    "x": {
                        "kind": "position",
                        "atoms": [0],
                        "axis": "x",
                        "bins": {"start": -0.5, "stop": 0.5, "num": 10},
                    }
                },
            ),
            "umbrella": {
                **double_well_study()["umbrella"],
                "second_cv": {"observable": "x", "centers": [-0.5, 0.0, 0.5]},
                "adaptive": {"enabled": True},
            },
        },
        "umbrella.adaptive.enabled: not available with umbrella.second_cv",
    ),
    "coefficients missing": (
        lambda: double_well_study(
            collective_variable={"kind": "linear_combination", "atoms": [0, 1]}
        ),
        "collective_variable.coefficients: linear_combination needs atoms in pairs",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_config_fails_fast_with_a_named_problem(case, tmp_path):
    make_config, pattern = CASES[case]
    result = run_snakemake(tmp_path, make_config(), "--dry-run", timeout=120)
    assert result.returncode != 0
    assert re.search(pattern, result.stdout + result.stderr), result.stderr[-2000:]
    assert "Building DAG" not in result.stdout + result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["study.yaml"]


def test_minimal_study_is_completed_by_schema_defaults(tmp_path):
    result = run_snakemake(tmp_path, double_well_study(), "--dry-run", timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "umbrella_window" in result.stdout
    # the markers the failing cases must not reach
    assert "Building DAG" in result.stdout + result.stderr
    assert (tmp_path / ".snakemake").is_dir()


def schema_properties(node, prefix=""):
    for key, sub in node.get("properties", {}).items():
        yield f"{prefix}{key}", sub
        yield from schema_properties(sub, f"{prefix}{key}.")
    if isinstance(node.get("additionalProperties"), dict):
        yield f"{prefix}<name>", node["additionalProperties"]
        yield from schema_properties(node["additionalProperties"], f"{prefix}<name>.")


def test_every_schema_key_has_description_default_and_documentation():
    import importlib.util

    import yaml

    from tests.workflow_helpers import REPO

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    for path, sub in schema_properties(schema):
        assert "description" in sub, path
        assert "default" in sub or path.endswith("<name>"), path
    spec = importlib.util.spec_from_file_location(
        "document_config", REPO / "workflow/schemas/document_config.py"
    )
    document = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(document)
    assert document.render_table() in (REPO / "config/README.md").read_text(), (
        "config/README.md is out of date: run python workflow/schemas/document_config.py"
    )


@pytest.mark.parametrize(
    "study", sorted(p.name for p in (REPO / "config/studies").glob("*.yaml")) + ["../config.yaml"]
)
def test_every_shipped_study_plans_from_a_fresh_checkout(study, tmp_path):
    """`snakemake -n --configfile F` on the tracked files alone (no results, nothing
    built): every input a study names (structures, reference PMFs) must be shipped."""
    import shutil
    import subprocess
    import sys

    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.fail("not a git checkout: cannot tell the shipped files")
    for name in tracked.stdout.splitlines():
        source = REPO / name
        if source.is_file():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tmp_path / name)
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "2", "--configfile",
         f"config/studies/{study}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Nothing to be done" not in result.stdout + result.stderr


def test_every_oracle_reference_of_a_shipped_study_plans(tmp_path):
    """resources/oracle_reference.py turns a study with a reference PMF into the same
    windows on the oracle: that config must pass the checks and plan (a study that checks
    its windows against the oracle, umbrella.oracle_every, once made it fail: the oracle
    cannot check itself)."""
    import importlib.util
    import subprocess
    import sys

    import yaml

    path = REPO / "resources/oracle_reference.py"
    spec = importlib.util.spec_from_file_location("oracle_reference", path)
    oracle_reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oracle_reference)
    studies = [p for p in sorted((REPO / "config/studies").glob("*.yaml"))
               if "reference" in yaml.safe_load(p.read_text())]  # fmt: skip
    assert any("oracle_every" in p.read_text() for p in studies)  # the case that once failed
    for path in studies:
        config = oracle_reference.oracle_study(yaml.safe_load(path.read_text()), "none")
        assert config["potential"] == "oracle" and "oracle_every" not in config["umbrella"]
        (tmp_path / path.name).write_text(yaml.safe_dump(config, sort_keys=False))
        result = subprocess.run(
            [sys.executable, "-m", "snakemake", "-n", "--nolock", "--cores", "2",
             "--configfile", str(tmp_path / path.name)],
            cwd=REPO, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, (path.name, result.stderr[-3000:])


def schema_defaults(section: str) -> dict:
    import yaml

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    properties = schema["properties"][section]["properties"]
    return {key: spec["default"] for key, spec in properties.items() if "default" in spec}


@pytest.mark.parametrize(
    "module, name, section",
    [
        ("mlpmf.settings", "CommitteeSettings", "committee"),
        ("mlpmf.settings", "DatasetSettings", "dataset"),
        ("mlpmf.settings", "ActiveLearningSettings", "active_learning"),
        ("mlpmf.settings", "TrustSettings", "active_learning"),
        ("mlpmf.settings", "WindowSettings", "umbrella"),
        ("mlpmf.settings", "FreeEnergySettings", "free_energy"),
        ("mlpmf.settings", "TransmissionSettings", "transmission"),
        ("mlpmf.settings", "SystemSettings", "system"),
        ("mlpmf.settings", "OracleSettings", "oracle"),
        ("mlpmf.settings", "ColvarSettings", "collective_variable"),
        ("mlpmf.settings", "DescriptorSettings", "descriptor"),
        ("mlpmf.settings", "BasinSettings", "rates"),
    ],
)
def test_settings_dataclasses_and_the_schema_share_their_defaults(module, name, section):
    """One fact, one value: a library user's defaults are the workflow's."""
    import dataclasses
    import importlib

    settings_class = getattr(importlib.import_module(module), name)
    defaults = schema_defaults(section)
    if name == "ActiveLearningSettings":  # null: the windows' length, resolved by the rule
        defaults["confirm_steps"] = 0
    from_schema = settings_class.from_config(defaults)
    from_library = settings_class()
    differing = {
        f.name: (getattr(from_library, f.name), getattr(from_schema, f.name))
        for f in dataclasses.fields(settings_class)
        if getattr(from_library, f.name) != getattr(from_schema, f.name)
    }
    assert not differing, f"{name} default vs {section} schema default: {differing}"


@pytest.mark.parametrize(
    "name, section",
    [
        ("SystemSettings", "system"),
        ("OracleSettings", "oracle"),
        ("ColvarSettings", "collective_variable"),
        ("DescriptorSettings", "descriptor"),
        ("BasinSettings", "rates"),
    ],
)
def test_whole_section_settings_hold_every_key_of_their_section(name, section):
    """A key the schema adds but the settings class lacks would be dropped silently on
    its way to the library: these classes are their sections, key for key (an
    observable is a CV with bins)."""
    import dataclasses

    import yaml

    from mlpmf import settings

    fields = {f.name for f in dataclasses.fields(getattr(settings, name))}
    assert set(schema_defaults(section)) <= fields
    if section == "collective_variable":
        schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
        observable = schema["properties"]["observables"]["additionalProperties"]
        assert set(observable["properties"]) <= fields


def test_windows_per_job_all_puts_each_set_of_windows_in_one_job(tmp_path):
    """``windows_per_job: all``: one window job per set of ``umbrella.repeats``, planned
    exactly as the set's window count written out."""
    import re

    from mlpmf.grids import linear_or_list
    from tests.workflow_helpers import double_well_study, run_snakemake

    plans = []
    count = len(linear_or_list(double_well_study()["umbrella"]["centers"], "umbrella.centers"))
    for value in ("all", count):
        config = double_well_study()
        config["umbrella"].update(repeats=2, windows_per_job=value)
        result = run_snakemake(tmp_path / str(value), config, "--dry-run")
        assert result.returncode == 0, result.stderr[-3000:]
        stats = result.stdout.split("Job stats:")[1].split("Reasons:")[0]
        plans.append(dict(re.findall(r"^(\w+)\s+(\d+)$", stats, re.M)))
    assert plans[0]["umbrella_window"] == "2"
    assert plans[0] == plans[1]
