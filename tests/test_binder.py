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


def test_scripts_are_executable_and_agree_on_the_cache():
    exports = {}
    for script in ("postBuild", "start"):
        path = BINDER / script
        assert os.access(path, os.X_OK), f"binder/{script} is not executable"
        text = path.read_text()
        assert text.startswith("#!"), f"binder/{script} has no shebang"
        exports[script] = dict(re.findall(r"^\s*export\s+(NUMBA_\w+)=(\S+)", text, flags=re.M))
        assert exports[script].get("NUMBA_CPU_NAME") == "generic", f"binder/{script}: NUMBA_CPU_NAME"
        assert "NUMBA_CACHE_DIR" in exports[script], f"binder/{script} does not export NUMBA_CACHE_DIR"
    cache_dir = exports["postBuild"]["NUMBA_CACHE_DIR"].split("#")[0]
    assert cache_dir == exports["start"]["NUMBA_CACHE_DIR"].split("#")[0], \
        "postBuild warms a different NUMBA_CACHE_DIR than start exports"
    assert "python -m explorer warm" in (BINDER / "postBuild").read_text()
    assert re.search(r'^\s*exec "\$@"\s*$', (BINDER / "start").read_text(), flags=re.M)


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
