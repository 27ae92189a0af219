"""Rerun scope, by construction: every key of the schema is changed in turn on a
finished study, and the jobs Snakemake then plans are checked against mlpmf.scope.READS.

A change must rerun exactly the rules that read the key (given or derived, in the old or
the new config) and what is built on their outputs (the rule graph downstream of them),
and nothing else: not a setting only another rule reads, not a key the study's oracle or
CV kind does not read, not the order of the keys in the study file. A change may also
ask for new jobs (another batch of windows, a stage it switches on) of those rules or of
rules the finished study did not have; a rule it switches off is no longer planned.
"""

import copy
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from mlpmf.scope import READS, rules_reading
from tests.workflow_helpers import REPO, dry_runs, run_snakemake, tiny_committee_study

pytestmark = pytest.mark.workflow
SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
PERIODIC_DIMER = """2
Lattice="30.0 0.0 0.0 0.0 30.0 0.0 0.0 0.0 30.0" Properties=species:S:1:pos:R:3 pbc="T T T"
Ar 10.0 10.0 10.0
Ar 13.0 10.0 10.0
"""


def scope_study(directory: Path) -> dict:
    """The tiny committee study with every stage on that one config can have: active
    learning, an observable, the oracle's checks in the windows, the reactive-flux
    transmission coefficient, reference PMF and barrier files; the dimer in a periodic
    cell, so that minimum-image distances are valid too."""
    config = tiny_committee_study()
    config["system"]["structure"] = str(directory / "dimer.extxyz")
    config["active_learning"] = {
        "max_iterations": 1,
        "steps_per_iteration": 40,
        "confirm_steps": 40,
        "retrain_epochs": 2,
        "check_every": 10,
    }
    bins = {"start": 2.65, "stop": 3.75, "num": 11}
    config["observables"] = {"bond": {"kind": "distance", "atoms": [0, 1], "bins": bins}}
    config["umbrella"]["oracle_every"] = 50
    config["transmission"] = {
        "enabled": True,
        "shots": 8,
        "shot_length_fs": 40.0,
        "equilibration_steps": 20,
        "bootstrap_samples": 10,
    }
    config["reference"] = {
        "pmf_file": str(directory / "pmf.csv"),
        "barrier_file": str(directory / "barrier.json"),
    }
    return config


def schema_leaves(node: dict, prefix: str = "") -> list[tuple[str, dict]]:
    """Every key of the schema with its own schema (objects opened up)."""
    if not node.get("properties"):
        return [(prefix, node)]
    leaves = []
    for name, child in node["properties"].items():
        leaves += schema_leaves(child, f"{prefix}.{name}" if prefix else name)
    return leaves


def put(config: dict, key: str, value) -> None:
    *parents, last = key.split(".")
    for part in parents:
        config = config.setdefault(part, {})
    config[last] = value


def resolved(config: dict) -> dict:
    """The config as the workflow reads it: every default filled in by the schema."""
    from snakemake.utils import validate

    config = copy.deepcopy(config)
    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))
    return config


def get(config: dict, key: str):
    for part in key.split("."):
        config = config[part]
    return config


def kind_with_coefficients(key):
    """A linear combination of the one pair (0, 1): the same distance, another kind."""

    def change(config):
        put(config, key, "linear_combination")
        put(config, key.replace("kind", "coefficients"), [1.0])

    return change


# Other valid values for keys no generic rule can change: paths, lists, kinds whose
# other values need other atoms, values tied to another key (bins inside the windows,
# oracle_every a multiple of record_every). A function changes the config itself.
SPECIAL = {
    "study": "another_study",
    "system.structure": "COPY",  # the same atoms in another file
    "system.fixed_atoms": [0],
    "oracle.kind": "xtb",
    "oracle.method": lambda config: config["oracle"].update(kind="xtb", method="GFN1-xTB"),
    "oracle.calculator": "ase.calculators.lj:LennardJones",
    "oracle.parameters": {"sigma": 3.4},
    "collective_variable.kind": kind_with_coefficients("collective_variable.kind"),
    "collective_variable.atoms": [1, 0],
    "collective_variable.coefficients": [2.0],
    "collective_variable.other_atoms": [1],
    "observables.bond.kind": kind_with_coefficients("observables.bond.kind"),
    "observables.bond.atoms": [1, 0],
    "observables.bond.coefficients": [2.0],
    "observables.bond.other_atoms": [1],
    "observables.bond.switching": {"r0_a": 2.0},
    "external_potential": [{"calculator": "ase.calculators.lj:LennardJones"}],
    "potential": "gaussian_process",
    "dataset.explorer.kind": "xtb",
    "dataset.explorer.calculator": "ase.calculators.lj:LennardJones",
    "dataset.explorer.parameters": {"sigma": 3.4},
    "committee.hidden_layers": [12],
    "umbrella.centers": {"start": 2.55, "stop": 3.8, "num": 6},
    "umbrella.spring_constant_kj_mol": 850.0,
    "umbrella.second_cv.observable": None,  # 2D: test_workflow_2d (no transmission there)
    "umbrella.second_cv.centers": [0.0, 2.0],
    "umbrella.start_frames": "START",
    "umbrella.windows_per_job": 3,
    "umbrella.record_every": 5,
    "umbrella.oracle_every": 60,
    "free_energy.bins.stop": 3.7,
    "rates.reactant": [2.7, 3.0],
    "rates.product": [3.4, 3.7],
    "reference.barrier_file": "",
    "reference.pmf_file": "",
    "validation.figures": {"barrier_kj_mol": {"max": 100.0}},
}


def changed(config: dict, key: str, schema: dict, directory: Path) -> dict:
    """``config`` with another valid value of ``key``."""
    new = copy.deepcopy(config)
    special = SPECIAL.get(key, "GENERIC")
    if callable(special):
        special(new)
        return new
    if special == "COPY":
        value = str(directory / "dimer_copy.extxyz")
    elif special == "START":
        value = str(directory / "frames.extxyz")
    elif special != "GENERIC":
        value = copy.deepcopy(special)
    else:
        value = get(resolved(config), key)
        if "enum" in schema:
            value = next(v for v in schema["enum"] if v != value and v is not None)
        elif isinstance(value, bool):
            value = not value
        elif isinstance(value, int):
            value += 1
        elif isinstance(value, float):
            value = round(value * 1.1, 6) if value else 0.5
            if value > schema.get("maximum", np.inf):
                value = round(schema["maximum"] * 0.9, 6)
        elif value is None:
            kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            value = {"integer": 5, "number": 0.5, "boolean": True, "string": "changed"}[kinds[0]]
        elif isinstance(value, str):
            value += "_changed"
        else:
            raise AssertionError(f"{key}: no other value for {value!r}; add it to SPECIAL")
    put(new, key, value)
    return new


def jobs(text: str) -> tuple[set[str], set[str]]:
    """(rules whose existing outputs a dry run reruns, rules of new jobs)."""
    assert text.startswith("exit 0"), text[-3000:]
    rerun, new = set(), set()
    blocks = re.findall(r"^(?:local)?rule (\w+):\n(.*?)^\s*reason: (.*?)$", text, re.M | re.S)
    for rule, _, reason in blocks:
        (new if "Missing output files" in reason else rerun).add(rule)
    return rerun - {"all"}, new - {"all"}


def rule_graph(text: str) -> dict[str, set[str]]:
    """Rule -> the rules that read its outputs, from ``--rulegraph`` output."""
    assert text.startswith("exit 0"), text[-3000:]
    names = dict(re.findall(r'^\s*(\d+)\[label = "(\w+)"', text, re.M))
    graph = {name: set() for name in names.values()}
    for source, target in re.findall(r"^\s*(\d+) -> (\d+)", text, re.M):
        graph[names[source]].add(names[target])
    return graph


def downstream(graph: dict[str, set[str]], rules: set[str]) -> set[str]:
    found, todo = set(rules), list(rules)
    while todo:
        for after in graph.get(todo.pop(), ()):
            if after not in found:
                found.add(after)
                todo.append(after)
    return found


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The scope study run to completion, and its rule graph."""
    workdir = tmp_path_factory.mktemp("scope")
    for name in ("dimer.extxyz", "dimer_copy.extxyz", "frames.extxyz"):
        (workdir / name).write_text(PERIODIC_DIMER)
    (workdir / "pmf.csv").write_text("cv,free_energy_kj_mol\n2.7,0.0\n3.2,5.0\n3.7,0.5\n")
    (workdir / "barrier.json").write_text('{"barrier_kj_mol": 14.0}\n')
    config = scope_study(workdir)
    result = run_snakemake(workdir, config)
    assert result.returncode == 0, result.stderr[-4000:]
    graph = rule_graph(dry_runs(workdir, [config], "--rulegraph", "--forceall")[0])
    return workdir, config, graph


def test_every_rule_of_the_workflow_is_in_the_map(finished):
    _, _, graph = finished
    assert set(graph) - {"all"} <= set(READS), set(graph) - set(READS)


def test_reordered_keys_rerun_nothing(finished):
    workdir, config, _ = finished

    def reversed_order(value):
        if isinstance(value, dict):
            return {k: reversed_order(value[k]) for k in reversed(list(value))}
        return value

    text = dry_runs(workdir, [reversed_order(config)])[0]
    assert jobs(text) == (set(), set()), text[-3000:]


def test_a_trust_threshold_reruns_only_what_states_the_verdict(finished):
    """Neither the windows nor the estimators: the trust check, the PMF tables' trusted
    column, rates.json's verdict, the plot that marks it, the gate (and provenance)."""
    workdir, config, _ = finished
    for key, value in (("umbrella.oracle_tolerance_kj_mol", 1.0), ("accept_untrusted", False)):
        new = copy.deepcopy(config)
        put(new, key, value)
        rerun, created = jobs(dry_runs(workdir, [new])[0])
        verdict = {"check_trust", "mark_trust", "rates", "plot_pmf", "trust_gate"}
        assert rerun == verdict | {"provenance"} and not created, (key, rerun, created)


def test_every_schema_key_reruns_exactly_the_rules_that_read_it(finished):
    """Every schema key, and every key of the study's observable, changed in turn."""
    workdir, config, graph = finished
    rules = set(graph) - {"all"}
    keys = [(key, node) for key, node in schema_leaves(SCHEMA) if key != "observables"]
    observable = SCHEMA["properties"]["observables"]["additionalProperties"]
    keys += [(f"observables.bond.{key}", node) for key, node in schema_leaves(observable)]
    keys = [(key, node) for key, node in keys if SPECIAL.get(key, "GENERIC") is not None]
    configs = [changed(config, key, node, workdir) for key, node in keys]
    outputs = dry_runs(workdir, configs)
    mismatches, retry = [], []
    for (key, _), new, text in zip(keys, configs, outputs, strict=True):
        rerun, created = jobs(text)
        if key == "study":  # another study: everything anew in its own results folder
            if rerun or created != rules:
                mismatches.append(f"study: reran {sorted(rerun)}, new {sorted(created)}")
            continue
        readers = rules_reading(resolved(config), key, rules)
        readers |= rules_reading(resolved(new), key, rules)
        expected = downstream(graph, readers)
        if not rerun <= expected or not created <= expected | (created - rules):
            mismatches.append(
                f"{key}: reran {sorted(rerun - expected)}, "
                f"new {sorted(created & rules - expected)} beyond {sorted(expected)}"
            )
        elif expected & rules - rerun - created:
            retry.append((key, new, expected & rules - rerun - created))
    # a rule that reads the key but was not planned: only where the change removed it
    graphs = dry_runs(workdir, [new for _, new, _ in retry], "--rulegraph", "--forceall")
    for (key, _, missing), text in zip(retry, graphs, strict=True):
        kept = missing & set(rule_graph(text))
        if kept:
            mismatches.append(f"{key}: {sorted(kept)} read it but did not rerun")
    assert not mismatches, "\n".join(mismatches)


def test_scripts_read_settings_only_through_their_params():
    """A script that read snakemake.config would depend on settings the map does not
    declare (only the device, which changes no result, may be read there)."""
    for path in (REPO / "workflow/scripts").glob("*.py"):
        read = re.findall(r"snakemake\.config\[\"(\w+)\"\]", path.read_text())
        assert set(read) <= {"device"}, f"{path.name} reads config {read}"
