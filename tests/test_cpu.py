"""The CPU level chosen for prebuilt numba caches (``explorer._cpu``), on fake flag sets.

The requirements below are written out again from the x86-64 psABI (not imported), so a slip
in the module's tables shows up here. The end-to-end check that a read-only prebuilt cache is
really used is in ``tests/test_jit_cache.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from explorer import _cpu

# x86-64 psABI micro-architecture levels, in /proc/cpuinfo's spelling (SSE3 is "pni", LZCNT "abm")
V2 = {"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"}
V3 = V2 | {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
OTHERS = {"fpu", "sse", "sse2", "avx512f", "avx512bw", "sha_ni", "aes", "pclmulqdq", "rdrand"}
ROOT = Path(__file__).resolve().parents[1]


def runnable(level: str, flags) -> bool:
    need = {"x86-64-v3": V3, "x86-64-v2": V2, "generic": set()}[level]
    flags = set(flags) | ({"abm"} if "lzcnt" in flags else set())
    return need <= flags


def test_flags_are_read_from_the_first_flags_line():
    text = ("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx2 fma\n\n"
            "processor\t: 1\nflags\t\t: fpu sse2 avx2 fma\n")
    assert _cpu.read_cpu_flags(text) == {"fpu", "sse2", "avx2", "fma"}
    assert _cpu.read_cpu_flags("processor : 0\nBogoMIPS : 50\n") == frozenset()


def test_a_modern_cpu_runs_every_level():
    assert _cpu.supported_levels(V3 | OTHERS, "x86_64") == ["x86-64-v3", "x86-64-v2", "generic"]
    assert _cpu.best_level(V3 | OTHERS, "x86_64") == "x86-64-v3"
    assert _cpu.best_level(V3, "AMD64") == "x86-64-v3"  # Windows spells the machine so


@pytest.mark.parametrize("missing", sorted(V3 - V2))
def test_one_missing_v3_feature_falls_back_to_v2(missing):
    assert _cpu.best_level((V3 | OTHERS) - {missing}, "x86_64") == "x86-64-v2"


@pytest.mark.parametrize("missing", sorted(V2))
def test_one_missing_v2_feature_falls_back_to_generic(missing):
    # AVX-512 and every v3 flag do not make up for a missing v2 one
    assert _cpu.best_level((V3 | OTHERS) - {missing}, "x86_64") == "generic"


def test_lzcnt_is_accepted_under_either_name():
    assert _cpu.best_level((V3 - {"abm"}) | {"lzcnt"}, "x86_64") == "x86-64-v3"


def test_other_architectures_get_generic_only():
    assert _cpu.supported_levels(V3, "aarch64") == ["generic"]
    assert _cpu.best_level(set(), "arm64") == "generic"


def test_only_available_levels_are_chosen():
    assert _cpu.best_level(V3, "x86_64", available=["x86-64-v2", "generic"]) == "x86-64-v2"
    assert _cpu.best_level(V3, "x86_64", available=["generic"]) == "generic"
    # a level the CPU cannot run is never chosen, even if it is the only one prebuilt
    assert _cpu.best_level(V2, "x86_64", available=["x86-64-v3"]) == "generic"


@given(st.sets(st.sampled_from(sorted(V3 | OTHERS | {"lzcnt"}))),
       st.sets(st.sampled_from(_cpu.LEVELS)))
def test_the_chosen_level_always_runs_on_the_cpu(flags, available):
    chosen = _cpu.best_level(flags, "x86_64", available=available or None)
    assert runnable(chosen, flags)
    better = [level for level in _cpu.LEVELS[:_cpu.LEVELS.index(chosen)]
              if runnable(level, flags) and (not available or level in available)]
    assert not better, f"chose {chosen} though {better} is runnable and available"


def _base(tmp_path, *levels):
    base = tmp_path / "prebuilt"
    for level in levels:
        (base / level).mkdir(parents=True)
    return base


def test_settings_pick_the_best_prebuilt_level(tmp_path):
    base = _base(tmp_path, *_cpu.LEVELS)
    environ = {_cpu.BASE_VARIABLE: str(base), "HOME": str(tmp_path)}
    assert _cpu.numba_settings(environ, V3, "x86_64") == {
        "NUMBA_CPU_NAME": "x86-64-v3", "NUMBA_CPU_FEATURES": "",
        "NUMBA_CACHE_DIR": str(base / "x86-64-v3")}
    assert _cpu.numba_settings(environ, V2, "x86_64")["NUMBA_CPU_NAME"] == "x86-64-v2"
    assert _cpu.numba_settings(environ, {"sse2"}, "x86_64")["NUMBA_CPU_NAME"] == "generic"


def test_settings_use_only_levels_the_base_holds(tmp_path):
    base = _base(tmp_path, "x86-64-v2", "generic")
    environ = {_cpu.BASE_VARIABLE: str(base)}
    assert _cpu.numba_settings(environ, V3, "x86_64")["NUMBA_CPU_NAME"] == "x86-64-v2"


def test_an_empty_base_is_filled_at_the_best_level(tmp_path):
    environ = {_cpu.BASE_VARIABLE: str(tmp_path / "new")}
    settings = _cpu.numba_settings(environ, V3, "x86_64")
    assert settings["NUMBA_CACHE_DIR"] == str(tmp_path / "new" / "x86-64-v3")


@pytest.mark.parametrize("explicit", [{"NUMBA_CPU_NAME": "skylake"}, {"NUMBA_CACHE_DIR": "/somewhere"}])
def test_the_users_own_numba_settings_win(tmp_path, explicit):
    environ = {_cpu.BASE_VARIABLE: str(_base(tmp_path, *_cpu.LEVELS)), **explicit}
    assert _cpu.numba_settings(environ, V3, "x86_64") == {}
    assert _cpu.configure(environ) == {} and environ[next(iter(explicit))] == next(iter(explicit.values()))


def test_without_a_base_numba_compiles_for_this_cpu():
    assert _cpu.numba_settings({}, V3, "x86_64") == {}


def test_link_prebuilt_links_missing_files_and_keeps_the_users(tmp_path):
    prebuilt, mine = tmp_path / "prebuilt", tmp_path / "mine"
    (prebuilt / "fractal_abc").mkdir(parents=True)
    (prebuilt / "fractal_abc" / "kernels.scan-1.py311.nbi").write_bytes(b"index")
    (prebuilt / "fractal_abc" / "kernels.scan-1.py311.1.nbc").write_bytes(b"code")
    (mine / "fractal_abc").mkdir(parents=True)
    (mine / "fractal_abc" / "kernels.scan-1.py311.nbi").write_bytes(b"my index")
    assert _cpu.link_prebuilt(prebuilt, mine) == 1
    assert (mine / "fractal_abc" / "kernels.scan-1.py311.1.nbc").read_bytes() == b"code"
    assert (mine / "fractal_abc" / "kernels.scan-1.py311.nbi").read_bytes() == b"my index"
    assert _cpu.link_prebuilt(prebuilt, mine) == 0


def test_shell_exports_for_binder_start(tmp_path):
    base = _base(tmp_path, "generic")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), _cpu.BASE_VARIABLE: str(base)}
    result = subprocess.run([sys.executable, "-m", "explorer._cpu"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    lines = result.stdout.splitlines()
    assert "export NUMBA_CPU_NAME=generic" in lines
    assert "export NUMBA_CPU_FEATURES=''" in lines
    assert f"export NUMBA_CACHE_DIR={base / 'generic'}" in lines
    # the shell helper must not import numba (it runs before numba may read its settings)
    probe = "import sys, explorer._cpu; print('numba' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=True).stdout.strip() == "False"


def test_levels_of_this_machine_are_printed():
    result = subprocess.run([sys.executable, "-m", "explorer._cpu", "--levels"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=True)
    levels = result.stdout.split()
    assert levels[-1] == "generic" and set(levels) <= set(_cpu.LEVELS)
    assert levels == _cpu.supported_levels(_cpu.read_cpu_flags())
