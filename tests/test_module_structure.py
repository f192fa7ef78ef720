"""The integration's module structure: pure modules stay pure, and every module imports alone.

Pure modules (the device layer, the optimiser's decisions, prices and the planner) must not import
Home Assistant, directly or through a sibling, so they run in executor jobs, in scripts/plan and in
the benchmarks alike. Import cycles only show with some import orders: each module is imported
first, with none of the integration loaded, once.
"""

from __future__ import annotations

import ast
from pathlib import Path
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / "ems"
PLANNER = INTEGRATION / "optimiser" / "planner"
PURE_MODULES = (
    "address.py",
    "const.py",
    "mode_tracker.py",
    "reconciliation.py",
    "soc_floor.py",
    "devices/__init__.py",
    "devices/_http.py",
    "devices/errors.py",
    "devices/indevolt.py",
    "devices/indevolt_poll_plan.py",
    "devices/indevolt_registers.py",
    "devices/indevolt_snapshot.py",
    "devices/p1.py",
    "devices/plausibility.py",
    "optimiser/active_plan.py",
    "optimiser/capacity.py",
    "optimiser/command_pacing.py",
    "optimiser/dispatch.py",
    "optimiser/export_limit.py",
    "optimiser/forecast_log.py",
    "optimiser/guards.py",
    "optimiser/load_profile.py",
    "optimiser/peak_reserve.py",
    "optimiser/peak_shaver.py",
    "optimiser/price_slots.py",
    "optimiser/prices.py",
    "optimiser/pv_correction.py",
    "optimiser/quarter_budget.py",
    "optimiser/readings.py",
    "optimiser/savings.py",
    "optimiser/tariffs.py",
    *(f"optimiser/planner/{path.name}" for path in sorted(PLANNER.glob("*.py"))),
)


def _runtime_imports(path: Path) -> list[ast.Import | ast.ImportFrom]:
    """The imports a module runs (those under ``if TYPE_CHECKING:`` only serve mypy)."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return found


def _absolute_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return [] if node.level else [node.module or ""]


def _sibling(path: Path, node: ast.ImportFrom) -> Path:
    """The file a relative import loads."""
    base = path.parent
    for _ in range(node.level - 1):
        base = base.parent
    target = base.joinpath(*(node.module or "").split("."))
    return target / "__init__.py" if target.is_dir() else target.with_suffix(".py")


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_imports_no_home_assistant(module: str) -> None:
    path = INTEGRATION / module
    for node in _runtime_imports(path):
        for name in _absolute_names(node):
            assert name.split(".")[0] != "homeassistant", f"{module} imports {name}"
        if isinstance(node, ast.ImportFrom) and node.level:
            # Through a sibling counts too: it must be pure as well.
            sibling = _sibling(path, node).relative_to(INTEGRATION).as_posix()
            assert sibling in PURE_MODULES, f"{module} imports the glue module {sibling}"


def test_planner_imports_nothing_outside_its_package() -> None:
    """scripts/plan and the benchmarks load the planner package alone, without the integration."""
    for path in sorted(PLANNER.glob("*.py")):
        for node in _runtime_imports(path):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1, f"{path.name} imports from outside the planner package"
            for name in _absolute_names(node):
                assert name.split(".")[0] not in {"custom_components", "homeassistant"}, name


def test_planner_package_loads_without_home_assistant() -> None:
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(PLANNER.parent)!r})\n"
        "import planner\n"
        "loaded = sorted(name for name in sys.modules if name.startswith(('homeassistant', 'custom_components')))\n"
        "print(planner.plan_schedule.__module__, loaded)\n"
    )
    completed = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert completed.stdout.strip() == "planner.schedule []"


def _integration_modules() -> list[str]:
    names = []
    for path in sorted(INTEGRATION.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_module_imports_first_without_a_cycle() -> None:
    """Each module imported first: an import cycle fails with some import order."""
    script = (
        "import importlib, sys\n"
        "failed = []\n"
        f"for name in {_integration_modules()!r}:\n"
        "    for loaded in [m for m in sys.modules if m.startswith('custom_components')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError as err:\n"
        "        failed.append(f'{name}: {err}')\n"
        "print('\\n'.join(failed))\n"
    )
    completed = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=ROOT,
    )
    assert completed.stdout.strip() == ""
    assert len(_integration_modules()) > 50
