"""The import floors of DESIGN.md: a module imports only modules on its own floor or
below, and the library has no import cycles."""

import ast
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[1] / "src" / "mlpmf"
FLOORS = {
    1: {"descriptors", "neighbours", "timeseries", "readers", "io", "checkpoint", "units",
        "provenance", "ledger", "scope", "plugins", "validation"},
    2: {"models", "oracles", "solver", "estimators", "estimators2d", "diagnostics", "reweighting",
        "correction", "colvars", "cvsettings", "placement", "config", "dataset", "trust",
        "studycheck"},
    3: {"training", "trainingdata", "gaussian_process", "evaluation", "calculator", "dynamics",
        "umbrella", "rates", "plotting", "report"},
    4: {"sampling", "exploration", "active_learning", "transmission"},
    5: {"cli", "cli_checks", "cli_pmf"},
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


MODULES = sorted(p.stem for p in LIBRARY.glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("module", MODULES)
def test_every_module_has_a_floor_and_imports_nothing_above_it(module):
    assert module in FLOOR, f"{module}.py: give it a floor in DESIGN.md and here"
    upward = {
        other for other in library_imports(LIBRARY / f"{module}.py")
        if FLOOR.get(other, 0) > FLOOR[module]
    }  # fmt: skip
    assert not upward, f"{module} (floor {FLOOR[module]}) imports {upward} from above"


def test_the_library_has_no_import_cycles():
    graph = {m: library_imports(LIBRARY / f"{m}.py") & set(MODULES) for m in MODULES}
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
