"""The Binder configuration: repo2docker accepts it, and it pins every runtime dependency.

repo2docker runs with ``--no-build --no-run``: it only writes the Dockerfile it would build,
so no Docker daemon (and no network) is needed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
REPO2DOCKER = Path(sys.executable).parent / "repo2docker"


def _name(requirement: str) -> str:
    """The normalised project name of a requirement line (``dask[distributed]>=1`` -> ``dask``)."""
    return re.sub(r"[-_.]+", "-", re.match(r"\s*([A-Za-z0-9._-]+)", requirement).group(1)).lower()


def _pins() -> dict[str, str]:
    """``binder/requirements.txt`` as {name: exact version}; fails on an unpinned line."""
    pins = {}
    for line in (BINDER / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line == "-e .":
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)(\[[A-Za-z0-9_,.-]+\])?==([A-Za-z0-9.+!-]+)", line)
        assert match, f"binder/requirements.txt: {line!r} is not pinned as name==version"
        pins[_name(match.group(1))] = match.group(3)
    return pins


def test_requirements_pin_every_runtime_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins()
    missing = [dep for dep in project["dependencies"] if _name(dep) not in pins]
    assert not missing, f"binder/requirements.txt does not pin {missing}"
    assert "llvmlite" in pins, "pin numba's llvmlite too (a numba release needs its own llvmlite)"
    for extra in ("dask", "distributed"):  # explorer.distributed, used by the notebooks
        assert extra in pins, f"binder/requirements.txt does not pin {extra}"


def test_requirements_install_the_project_last():
    lines = [line.strip() for line in (BINDER / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    # with binder/ present, repo2docker installs nothing it is not told to
    assert lines[-1] == "-e .", "binder/requirements.txt must end with `-e .`"


def test_requirements_pin_the_installed_versions():
    """The pins are the versions this environment (where the tests pass) has installed."""
    from importlib.metadata import PackageNotFoundError, version

    stale = {}
    for name, pinned in _pins().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            stale[name] = (pinned, installed)
    assert not stale, f"binder/requirements.txt pins differ from .venv (pinned, installed): {stale}"


def test_scripts_are_executable_and_agree_on_the_cache():
    exports = {}
    for script in ("postBuild", "start"):
        path = BINDER / script
        assert os.access(path, os.X_OK), f"binder/{script} is not executable"
        text = path.read_text()
        assert text.startswith("#!"), f"binder/{script} has no shebang"
        exports[script] = dict(re.findall(r"^\s*export\s+(\w+)=(\S+)", text, flags=re.M))
        assert "EXPLORER_NUMBA_CACHE_BASE" in exports[script], \
            f"binder/{script} does not export EXPLORER_NUMBA_CACHE_BASE"
        # a fixed level here would pin every user to it (generic: 3-5x slower than needed)
        assert "NUMBA_CPU_NAME" not in exports[script], f"binder/{script} fixes NUMBA_CPU_NAME"
    assert exports["postBuild"]["EXPLORER_NUMBA_CACHE_BASE"] == exports["start"]["EXPLORER_NUMBA_CACHE_BASE"], \
        "postBuild fills a different cache base than start reads"
    assert re.search(r"^python -m explorer warm --levels all$", (BINDER / "postBuild").read_text(), flags=re.M)
    start = (BINDER / "start").read_text()
    assert re.search(r'^eval "\$\(python -m explorer\._cpu\)"', start, flags=re.M)
    assert re.search(r'^\s*exec "\$@"\s*$', start, flags=re.M)


def test_start_exports_a_level_this_cpu_runs(tmp_path):
    """binder/start run for real: it exports the best level postBuild built that the CPU runs."""
    from explorer import _cpu

    base = tmp_path / ".cache" / "explorer-numba"
    for level in _cpu.LEVELS:
        (base / level).mkdir(parents=True)
    probe = 'echo "$NUMBA_CPU_NAME|$NUMBA_CPU_FEATURES|$NUMBA_CACHE_DIR"'
    env = {"HOME": str(tmp_path), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
           "PYTHONPATH": str(ROOT)}
    result = subprocess.run([str(BINDER / "start"), "bash", "-c", probe], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    best = _cpu.best_level(_cpu.read_cpu_flags())
    assert result.stdout.strip() == f"{best}||{base / best}"


@pytest.mark.skipif(not REPO2DOCKER.exists(), reason=f"no {REPO2DOCKER} (pip install -e '.[dev]')")
def test_repo2docker_accepts_the_configuration(tmp_path):
    result = subprocess.run(
        [str(REPO2DOCKER), "--no-build", "--no-run", "--debug", "--user-id", "1000",
         "--user-name", "jovyan", str(ROOT)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "HOME": str(tmp_path)})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    # the Dockerfile it would build (printed by --debug --no-build)
    assert "Building conda environment for python=3.11" in output, output[-3000:]
    assert re.search(r'pip install .*-r "?binder/requirements.txt', output), \
        "binder/requirements.txt is not installed"
    assert "./binder/postBuild" in output, "binder/postBuild is not run"
    assert 'R2D_ENTRYPOINT="${REPO_DIR}/binder/start"' in output, "binder/start is not the entrypoint"


def _links_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("binder_links", BINDER / "links.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_binder_links_follow_the_one_repository_setting():
    links = _links_module()
    assert links.settings().keys() == {"REPO", "BRANCH"}, "the Makefile lost its REPO/BRANCH lines"
    assert links.disagreements() == []


def test_binder_links_rewrites_the_setting_and_every_link(tmp_path):
    links = _links_module()
    makefile, readme = tmp_path / "Makefile", tmp_path / "README.md"
    makefile.write_text("REPO   ?= someone/explorer\nBRANCH ?= main\nPORT ?= 8888\n")
    readme.write_text(
        "[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/someone/explorer/main"
        "?urlpath=lab/tree/notebooks/00_tour.ipynb)\n"
        "| [fractal](https://mybinder.org/v2/gh/someone/explorer/main"
        "?urlpath=voila/render/dashboards/fractal.ipynb) |\n"
        "https://mybinder.org/v2/gh/someone/explorer/main\n")
    printed = links.rewrite("teacher/explorer-2", "class/2027", makefile, [readme])
    assert makefile.read_text() == "REPO   ?= teacher/explorer-2\nBRANCH ?= class/2027\nPORT ?= 8888\n"
    assert links.links(readme.read_text()) == [("teacher/explorer-2", "class/2027")] * 3
    dashboard = "https://mybinder.org/v2/gh/teacher/explorer-2/class/2027?urlpath=voila/render/dashboards/fractal.ipynb"
    assert dashboard in printed
    assert links.disagreements(makefile, [readme]) == []
    readme.write_text(readme.read_text() + "(https://mybinder.org/v2/gh/other/repo/main)\n")
    assert links.disagreements(makefile, [readme]) == [
        "README.md: other/repo/main (Makefile: teacher/explorer-2/class/2027)"]


def test_every_view_has_a_dashboard():
    views = sorted(path.stem for path in (ROOT / "explorer" / "apps").glob("[a-z]*.py")
                   if f"def build_{path.stem}_app(" in path.read_text())
    dashboards = sorted(path.stem for path in (ROOT / "dashboards").glob("*.ipynb"))
    assert views and dashboards == views
    for view in views:
        text = (ROOT / "dashboards" / f"{view}.ipynb").read_text()
        assert f"build_{view}_app()" in text, f"dashboards/{view}.ipynb does not build the {view} view"
