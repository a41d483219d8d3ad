"""The layers' one-way rule: ``aimixer_dsp`` <- ``aimixer_train`` <- ``origin``.

Every import statement in a layer's source (module level or inside a function) is read with
``ast``; an import of a higher layer fails the test and names the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {
    "aimixer_dsp": (ROOT / "wasm" / "aimixer_dsp", ("aimixer_train", "origin", "edge")),
    "aimixer_train": (ROOT / "models" / "aimixer_train", ("origin", "edge")),
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, top-level package)`` of every absolute import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module.split(".")[0]))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                out.append((node.lineno, node.args[0].value.split(".")[0]))
    return out


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_no_import_runs_back_up(layer: str) -> None:
    src, above = LAYERS[layer]
    files = sorted(src.rglob("*.py"))
    assert files, f"no sources under {src}"
    bad = [
        f"{f.relative_to(ROOT)}:{line} imports {mod}"
        for f in files
        for line, mod in imported_modules(f)
        if mod in above
    ]
    assert not bad, f"{layer} must not import {', '.join(above)}:\n" + "\n".join(bad)


def test_the_check_sees_function_level_imports(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from origin.genre import load_audio\n    import importlib\n")
    assert (2, "origin") in imported_modules(f)
