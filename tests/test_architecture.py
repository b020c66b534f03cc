"""The layout's promises: algorithms never import widgets or plotting; kernels use the shared jit."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "explorer"
TOPICS = [p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists() and p.name not in ("apps", "cli")]


@pytest.mark.parametrize("topic", TOPICS)
def test_algorithms_do_not_import_widgets_or_plotting(topic):
    code = (f"import sys, explorer.{topic}; "
            "print(sorted(m for m in ('ipywidgets', 'plotly', 'matplotlib.pyplot') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def python_files():
    return [p for p in PACKAGE.rglob("*.py") if "apps" not in p.parts]


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_numba_is_only_configured_in_jit(path):
    if path.name == "_jit.py":
        return
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "numba":
            assert node.attr not in ("njit", "jit", "vectorize", "guvectorize"), f"{path}: use explorer._jit"
        if isinstance(node, ast.ImportFrom) and node.module == "numba":
            names = {alias.name for alias in node.names}
            assert not names & {"njit", "jit", "vectorize", "guvectorize"}, f"{path}: use explorer._jit"
        if isinstance(node, ast.keyword) and node.arg == "fastmath":
            assert not (isinstance(node.value, ast.Constant) and node.value.value is True), \
                f"{path}: blanket fastmath=True hides NaN/inf"
