"""The import floors (declared in FLOORS, mapped in docs/architecture.md): a module
imports only modules on its own floor or below, and the library has no import cycles;
and docs/architecture.md names every module with its floor, and every workflow rule."""

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIBRARY = REPO / "src" / "mlpmf"
ARCHITECTURE = REPO / "docs" / "architecture.md"
RULES = REPO / "workflow" / "rules"
FLOORS = {
    1: {"descriptors", "neighbours", "timeseries", "readers", "io", "checkpoint", "units",
        "provenance", "ledger", "scope", "plugins", "validation", "settings", "targets", "samples"},
    2: {"models", "oracles", "solver", "estimators", "estimators2d", "diagnostics", "reweighting",
        "correction", "colvars", "cvsettings", "placement", "config", "grids", "dataset",
        "trust", "studycheck", "analytic", "pyscf_calculator", "robust", "overlap",
        "convergence", "windowplan", "tst", "pathcv", "pathstring", "pathstudy", "errorbudget"},
    3: {"training", "trainingdata", "gaussian_process", "evaluation", "trustlevels", "pathbuild",
        "calculator", "dynamics", "umbrella", "rates", "plotting", "report"},
    4: {"sampling", "exploration", "active_learning", "transmission"},
    5: {"cli", "cli_checks", "cli_pmf"},
    6: {"stages"},
}  # fmt: skip
FLOOR = {module: floor for floor, modules in FLOORS.items() for module in modules}


def library_imports(path: Path) -> set[str]:
    """The mlpmf modules ``path`` imports, anywhere in the file."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mlpmf"):
            parts = node.module.split(".")
            if len(parts) > 1:
                imported.add(parts[1])
            else:
                imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            imported.update(a.name.split(".")[1] for a in node.names if a.name.startswith("mlpmf."))
    return imported


# A package (mlpmf.stages) counts as one module: its files share its floor.
PACKAGES = sorted(p.parent.name for p in LIBRARY.glob("*/__init__.py"))
MODULES = sorted([p.stem for p in LIBRARY.glob("*.py") if p.stem != "__init__"] + PACKAGES)


def module_imports(module: str) -> set[str]:
    """The other mlpmf modules ``module`` (a file, or every file of a package) imports."""
    files = (
        sorted((LIBRARY / module).glob("*.py"))
        if module in PACKAGES
        else [LIBRARY / f"{module}.py"]
    )
    return set().union(*(library_imports(path) for path in files)) - {module}


@pytest.mark.parametrize("module", MODULES)
def test_every_module_has_a_floor_and_imports_nothing_above_it(module):
    assert module in FLOOR, f"{module}.py: give it a floor here and in docs/architecture.md"
    upward = {
        other for other in module_imports(module) if FLOOR.get(other, 0) > FLOOR[module]
    }  # fmt: skip
    assert not upward, f"{module} (floor {FLOOR[module]}) imports {upward} from above"


def test_the_library_has_no_import_cycles():
    graph = {m: module_imports(m) & set(MODULES) for m in MODULES}
    state: dict[str, int] = {}

    def visit(module, path):
        if state.get(module) == 1:
            raise AssertionError("import cycle: " + " -> ".join([*path, module]))
        if state.get(module) == 2:
            return
        state[module] = 1
        for other in graph[module]:
            visit(other, [*path, module])
        state[module] = 2

    for module in MODULES:
        visit(module, [])


def architecture_rows() -> dict[str, list[str]]:
    """The table rows of docs/architecture.md whose first cell is a name in backticks:
    ``{name: cells}`` (a module's row: file name, floor, job)."""
    rows = {}
    for line in ARCHITECTURE.read_text().splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows[cells[0].split("`")[1]] = cells
    return rows


def workflow_rules() -> dict[str, str]:
    """Every rule (and checkpoint) defined in workflow/rules/*.smk: ``{name: file}``."""
    pattern = re.compile(r"^\s*(?:rule|checkpoint)\s+(\w+)\s*:", re.MULTILINE)
    return {
        name: path.name
        for path in sorted(RULES.glob("*.smk"))
        for name in pattern.findall(path.read_text())
    }


def test_architecture_doc_names_every_module():
    rows = architecture_rows()
    files = sorted(p.relative_to(LIBRARY).as_posix() for p in LIBRARY.rglob("*.py"))
    missing = [name for name in files if name not in rows]
    assert not missing, (
        "docs/architecture.md has no row for these modules of src/mlpmf (add "
        f"'| `NAME.py` | FLOOR | JOB |' to its module table): {', '.join(missing)}"
    )


def test_architecture_doc_states_each_module_floor():
    rows = architecture_rows()
    wrong = [
        f"{module}.py (floor {FLOOR[module]}, the doc says {rows[f'{module}.py'][1]})"
        for module in MODULES
        if module in FLOOR
        and f"{module}.py" in rows
        and rows[f"{module}.py"][1] != str(FLOOR[module])
    ]
    assert not wrong, f"docs/architecture.md states the wrong floor for: {', '.join(wrong)}"


def test_architecture_doc_names_every_rule():
    rows = architecture_rows()
    missing = [f"{name} ({file})" for name, file in workflow_rules().items() if name not in rows]
    assert not missing, (
        "docs/architecture.md has no row for these rules of workflow/rules (add each to its "
        f"table of rules and to the settings map): {', '.join(missing)}"
    )


def test_no_library_function_takes_more_than_eight_parameters():
    """Long signatures hide settings that belong together: group them (a settings
    dataclass, UmbrellaSamples, StepHooks) instead."""
    long = []
    for path in sorted(LIBRARY.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                a = node.args
                names = [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
                count = sum(x is not None and x.arg not in ("self", "cls") for x in names)
                if count > 8:
                    long.append(f"{path.relative_to(LIBRARY)}:{node.lineno} {node.name} ({count})")
    assert not long, f"functions with more than 8 parameters: {', '.join(long)}"
