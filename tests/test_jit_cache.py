"""A read-only install still imports, and its kernels still cache (``explorer._jit``).

Each test copies the ``explorer`` package into a temporary folder, makes it read-only and
imports it in a fresh interpreter with ``NUMBA_CACHE_DIR`` unset. Root ignores permission
bits, so when the suite runs as root the interpreter runs as ``nobody`` (via ``setpriv``);
otherwise a read-only package could not be simulated without a read-only mount.

The last test is a shared image (Binder, JupyterHub): a cache prebuilt for a portable CPU
level in a read-only folder named by ``EXPLORER_NUMBA_CACHE_BASE`` is used by another account
without compiling again (``explorer._cpu``).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOBODY = 65534
AS_ROOT = os.getuid() == 0
SETPRIV = shutil.which("setpriv")

pytestmark = pytest.mark.skipif(AS_ROOT and SETPRIV is None,
                                reason="running as root without setpriv: cannot drop privileges")

PROBE = textwrap.dedent("""
    import json, os, sys
    import explorer._jit as jit
    import numba
    report = {"jit_file": jit.__file__, "cache_dir": numba.config.CACHE_DIR,
              "env_cache_dir": os.environ.get("NUMBA_CACHE_DIR"), "uid": os.getuid(),
              "user_cache_dir": str(jit.user_cache_dir())}
    if "--compile" in sys.argv:
        from explorer.fractal import make_problem, scan
        report["measure_shape"] = list(scan(make_problem(width=2), resolution=2, steps=21).measure.shape)
    print(json.dumps(report))
""")


def _make_tree(base: Path, mode: int, owner: int | None) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(mode)
    if owner is not None:
        os.chown(base, owner, owner)
    return base


@pytest.fixture
def sandbox():
    """A folder everyone may enter (pytest's tmp_path is 0700 under root: nobody could not)."""
    top = Path(tempfile.mkdtemp(prefix="explorer-jit-cache-"))
    top.chmod(0o755)
    owner = NOBODY if AS_ROOT else None
    site = top / "site"
    shutil.copytree(ROOT / "explorer", site / "explorer",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc", "*.pyc"))
    for path in [site, *site.rglob("*")]:  # chmod -R a-w
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    home = _make_tree(top / "home", 0o755, owner)
    tmp = _make_tree(top / "tmp", 0o755, owner)
    try:
        yield {"top": top, "site": site, "home": home, "tmp": tmp}
    finally:
        for path in [top, *top.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
        shutil.rmtree(top, ignore_errors=True)


def _probe(box, *args, **env_overrides) -> dict:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("NUMBA_", "XDG_", "EXPLORER_")) and key not in ("PYTHONPATH", "TMPDIR")}
    env.update(PYTHONPATH=str(box["site"]), HOME=str(box["home"]), TMPDIR=str(box["tmp"]),
               PYTHONDONTWRITEBYTECODE="1", **env_overrides)
    command = [sys.executable, "-c", PROBE, *args]
    if AS_ROOT:
        command = [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", *command]
    result = subprocess.run(command, env=env, cwd=box["top"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"import failed:\n{result.stderr[-3000:]}"
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(report["jit_file"]).is_relative_to(box["site"]), "imported the wrong explorer"
    return report


@pytest.mark.slow
def test_read_only_package_caches_under_home(sandbox):
    report = _probe(sandbox, "--compile")
    expected = sandbox["home"] / ".cache" / "explorer" / "numba"
    assert Path(report["cache_dir"]) == expected
    assert Path(report["user_cache_dir"]) == expected
    assert report["measure_shape"] == [2, 2]
    index_files = sorted(p.name for p in expected.rglob("*.nbi"))
    assert any("scan_kernel" in name for name in index_files), index_files
    assert not list((sandbox["site"]).rglob("*.nbi")), "numba wrote into the read-only package"


def test_read_only_package_and_home_fall_back_to_tmp(sandbox):
    sandbox["home"].chmod(0o555)
    if AS_ROOT:
        os.chown(sandbox["home"], 0, 0)
    report = _probe(sandbox)
    expected = sandbox["tmp"] / f"explorer-numba-{report['uid']}"
    assert Path(report["cache_dir"]) == expected
    assert expected.is_dir()


def test_explicit_numba_cache_dir_is_respected(sandbox):
    chosen = sandbox["tmp"] / "chosen"
    report = _probe(sandbox, NUMBA_CACHE_DIR=str(chosen))
    assert report["env_cache_dir"] == str(chosen)
    assert Path(report["cache_dir"]) == chosen


PREBUILT_PROBE = textwrap.dedent("""
    import json, os, sys
    import explorer._jit  # picks the level and the cache before numba reads its settings
    import numba
    import probe_kernel
    probe_kernel.double(3.0)
    stats = probe_kernel.double.stats
    print(json.dumps({"cpu_name": numba.config.CPU_NAME, "cpu_features": numba.config.CPU_FEATURES,
                      "cache_dir": numba.config.CACHE_DIR, "hits": sum(stats.cache_hits.values()),
                      "misses": sum(stats.cache_misses.values())}))
""")


def test_read_only_prebuilt_cache_is_used_without_recompiling(sandbox):
    """A shared image: caches prebuilt per CPU level in a read-only folder (EXPLORER_NUMBA_CACHE_BASE)."""
    kernels = _make_tree(sandbox["top"] / "kernels", 0o755, None)  # a tiny cached kernel of our own
    (kernels / "probe_kernel.py").write_text(
        "from explorer._jit import njit_cached\n\n\n@njit_cached\ndef double(x):\n    return 2.0 * x\n")
    base = sandbox["top"] / "prebuilt"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("NUMBA_", "XDG_", "EXPLORER_")) and key not in ("PYTHONPATH", "TMPDIR")}
    env.update(PYTHONPATH=f"{sandbox['site']}{os.pathsep}{kernels}", PYTHONDONTWRITEBYTECODE="1",
               EXPLORER_NUMBA_CACHE_BASE=str(base))
    # the image build: compile for the portable "generic" level into <base>/generic
    build = subprocess.run([sys.executable, "-c", PREBUILT_PROBE],
                           env={**env, "NUMBA_CPU_NAME": "generic", "NUMBA_CACHE_DIR": str(base / "generic"),
                                "HOME": str(sandbox["top"] / "builder")},
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    assert json.loads(build.stdout.splitlines()[-1])["misses"] == 1
    built = sorted(path.relative_to(base) for path in base.rglob("*"))
    for path in [base, *base.rglob("*")]:  # chmod -R a-w,a+rX
        path.chmod((path.stat().st_mode | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
                    | (0o111 if path.is_dir() else 0)) & ~0o222)
    # a user of the image: another account, the folder read-only
    report = _probe_prebuilt(sandbox, env)
    assert report["cpu_name"] == "generic" and report["cpu_features"] == ""
    assert Path(report["cache_dir"]) == sandbox["home"] / ".cache" / "explorer" / "numba-generic"
    assert (report["hits"], report["misses"]) == (1, 0), "the prebuilt kernel was compiled again"
    assert sorted(path.relative_to(base) for path in base.rglob("*")) == built


def _probe_prebuilt(box, env) -> dict:
    command = [sys.executable, "-c", PREBUILT_PROBE]
    if AS_ROOT:
        command = [SETPRIV, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", *command]
    result = subprocess.run(command, env={**env, "HOME": str(box["home"]), "TMPDIR": str(box["tmp"])},
                            cwd=box["top"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


STALE_PROBE = textwrap.dedent("""
    import json
    from explorer.probe_topic.caller import twice_helper
    value = twice_helper(1.0)
    stats = twice_helper.stats
    print(json.dumps({"value": value, "hits": sum(stats.cache_hits.values()),
                      "misses": sum(stats.cache_misses.values())}))
""")


def test_editing_a_called_module_recompiles_its_callers(tmp_path):
    """numba stamps a cache with the kernel's own file only; a kernel that inlines a function of
    another module kept its old machine code when only that module changed. The package stamps
    each kernel with its whole folder, so the caller sees the edit."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "explorer", site / "explorer",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc", "*.pyc"))
    topic = site / "explorer" / "probe_topic"
    topic.mkdir()
    (topic / "__init__.py").write_text("")
    helper = topic / "helper.py"
    helper.write_text("from explorer._jit import njit_cached\n\n\n"
                      "@njit_cached(inline='always')\ndef helper(x):\n    return x + 1.0\n")
    (topic / "caller.py").write_text("from explorer._jit import njit_cached\n"
                                     "from explorer.probe_topic.helper import helper\n\n\n"
                                     "@njit_cached\ndef twice_helper(x):\n    return 2.0 * helper(x)\n")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("NUMBA_", "EXPLORER_")) and key != "PYTHONPATH"}
    env.update(PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1")

    def run():
        result = subprocess.run([sys.executable, "-c", STALE_PROBE], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    assert run() == {"value": 4.0, "hits": 0, "misses": 1}
    assert run() == {"value": 4.0, "hits": 1, "misses": 0}  # the cache works
    helper.write_text(helper.read_text().replace("x + 1.0", "x + 2.0"))
    assert run() == {"value": 6.0, "hits": 0, "misses": 1}  # and follows the helper's edit
    assert run() == {"value": 6.0, "hits": 1, "misses": 0}


def test_njit_noalias_marks_array_arguments_and_computes_the_same():
    """The promise reaches LLVM (numba has no public option for it: guard its internals)."""
    import numpy as np

    from explorer._jit import njit_cached, njit_noalias

    def scaled_copy(source, target, factor):
        for index in range(source.size):
            target[index] = factor * source[index]

    plain = njit_cached(scaled_copy, cache=False)
    promised = njit_noalias(scaled_copy, cache=False)
    source = np.arange(37.0)
    expected, got = np.empty(37), np.empty(37)
    plain(source, expected, 3.0)
    promised(source, got, 3.0)
    assert np.array_equal(got, expected) and np.array_equal(got, 3.0 * source)
    ir_of = {name: function.inspect_llvm(function.signatures[0])
             for name, function in (("plain", plain), ("promised", promised))}
    marked = [line for line in ir_of["promised"].splitlines()
              if line.startswith("define") and "scaled_copy" in line and "noalias" in line]
    assert marked, "njit_noalias did not mark the compiled function's arguments noalias"
    assert ir_of["promised"].count("noalias") > ir_of["plain"].count("noalias")
