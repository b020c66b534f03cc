"""Which CPU level numba compiles for, chosen before numba is imported.

numba compiles for the CPU it runs on and keys its on-disk cache on that CPU's name and
features, so a cache built on one machine is skipped (recompiled) on another. An image that is
built on one machine and run on others (Binder, a JupyterHub image, a read-only system install)
therefore ships caches for a few portable x86-64 *levels* (psABI micro-architecture levels, as
LLVM names them) and each process picks the best level its CPU can run:

``x86-64-v3``
    v2 plus AVX, AVX2, BMI1, BMI2, F16C, FMA, LZCNT, MOVBE, OSXSAVE (Haswell, Zen and later).
``x86-64-v2``
    the baseline plus CMPXCHG16B, LAHF/SAHF, POPCNT, SSE3, SSE4.1, SSE4.2, SSSE3.
``generic``
    the x86-64 baseline (SSE2); runs anywhere, 3-5x slower on our kernels.

Set ``EXPLORER_NUMBA_CACHE_BASE`` to a folder holding one prebuilt cache per level
(``<base>/x86-64-v3``, ... filled by ``python -m explorer warm --levels all``); importing
:mod:`explorer._jit` then sets ``NUMBA_CPU_NAME``, ``NUMBA_CPU_FEATURES`` (empty: exactly the
level's features, not this host's) and ``NUMBA_CACHE_DIR``. A read-only base (a system image)
is used through a per-user folder of links to its files, because numba refuses a cache folder
it cannot write. A user's own ``NUMBA_CPU_NAME`` or ``NUMBA_CACHE_DIR`` always wins: then
nothing is changed. Without the base variable numba compiles for this exact CPU (fastest, and
right for a cache beside the sources that never moves).

``python -m explorer._cpu`` prints the chosen settings as ``export`` lines for a shell
(``binder/start`` evaluates them); ``--levels`` prints the levels this CPU can run.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
import tempfile
from pathlib import Path

BASE_VARIABLE = "EXPLORER_NUMBA_CACHE_BASE"
#: Portable levels, best first. ``generic`` must stay last: every CPU runs it.
LEVELS = ("x86-64-v3", "x86-64-v2", "generic")

# /proc/cpuinfo spells SSE3 "pni" and reports LZCNT as "abm" (some kernels also say "lzcnt");
# OSXSAVE is not listed, but Linux clears "xsave" (and AVX with it) when it disables XSAVE.
_V2 = frozenset({"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"})
_V3 = _V2 | {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "movbe", "xsave"}
_LZCNT = frozenset({"abm", "lzcnt"})
_X86_64 = {"x86_64", "amd64"}


def read_cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU feature flags, from ``/proc/cpuinfo`` (empty where that file does not exist).

    Parameters
    ----------
    cpuinfo : str, optional
        Text in ``/proc/cpuinfo``'s format; default: read the file.

    Examples
    --------
    >>> sorted(read_cpu_flags("processor : 0\\nflags : sse2 avx2 fma\\n"))
    ['avx2', 'fma', 'sse2']
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":  # the first processor's; all cores of one machine agree
            return frozenset(value.split())
    return frozenset()


def supported_levels(flags, machine: str | None = None) -> list[str]:
    """The levels of :data:`LEVELS` a CPU with ``flags`` can run, best first.

    Off x86-64 only ``generic`` (the architecture's baseline) is portable.

    Examples
    --------
    >>> supported_levels({"sse2"}, "x86_64")
    ['generic']
    """
    machine = (machine or platform.machine()).lower()
    flags = frozenset(flags)
    if machine not in _X86_64:
        return ["generic"]
    levels = []
    if _V3 <= flags and flags & _LZCNT:
        levels.append("x86-64-v3")
    if _V2 <= flags:
        levels.append("x86-64-v2")
    return [*levels, "generic"]


def best_level(flags, machine: str | None = None, available=None) -> str:
    """The best level this CPU can run, among ``available`` ones if given (else any).

    ``generic`` is the answer when nothing better is both runnable and available.

    Examples
    --------
    >>> best_level({"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"}, "x86_64")
    'x86-64-v2'
    """
    for level in supported_levels(flags, machine):
        if available is None or level in available:
            return level
    return "generic"


def writable(directory: Path) -> bool:
    """Whether ``directory`` exists or can be made, and a file can be created in it.

    A real write: ``os.access`` says yes to root even on a read-only mount.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
        return True
    except OSError:
        return False


def numba_settings(environ=None, flags=None, machine: str | None = None) -> dict[str, str]:
    """The numba variables to set for the prebuilt caches under ``EXPLORER_NUMBA_CACHE_BASE``.

    Empty when the base variable is unset or the user set ``NUMBA_CPU_NAME`` or
    ``NUMBA_CACHE_DIR`` themselves. Otherwise the best level the CPU runs among the levels
    the base holds (any level if it holds none yet: it is being filled), with the level's
    folder as the cache (see :func:`cache_dir_for`).

    Parameters
    ----------
    environ : mapping, optional
        Default ``os.environ``.
    flags : iterable of str, optional
        CPU flags; default :func:`read_cpu_flags`.
    machine : str, optional
        Default ``platform.machine()``.
    """
    environ = os.environ if environ is None else environ
    base = environ.get(BASE_VARIABLE)
    if not base or environ.get("NUMBA_CPU_NAME") or environ.get("NUMBA_CACHE_DIR"):
        return {}
    base = Path(base).expanduser()
    present = [level for level in LEVELS if (base / level).is_dir()]
    flags = read_cpu_flags() if flags is None else flags
    level = best_level(flags, machine, available=present or None)
    return {"NUMBA_CPU_NAME": level, "NUMBA_CPU_FEATURES": "",
            "NUMBA_CACHE_DIR": str(cache_dir_for(base / level, environ))}


def cache_dir_for(prebuilt: Path, environ=None) -> Path:
    """The cache folder to use for the prebuilt cache ``prebuilt``.

    ``prebuilt`` itself when it can be written (it is made if missing: it is being filled);
    otherwise a per-user folder that :func:`link_prebuilt` fills with links to its files.
    """
    if writable(prebuilt):
        return prebuilt
    environ = os.environ if environ is None else environ
    home = Path(environ.get("XDG_CACHE_HOME") or Path(environ.get("HOME") or Path.home()) / ".cache")
    return home / "explorer" / f"numba-{prebuilt.name}"


def link_prebuilt(prebuilt: Path, cache_dir: Path) -> int:
    """Link every file of the read-only cache ``prebuilt`` into ``cache_dir``; returns how many.

    numba reads the links like files and, when it compiles something new, replaces an index
    link by a file of its own (it writes a temporary file and renames it), so the shared
    files are never written. Files the user already has are kept.
    """
    made = 0
    for source in prebuilt.rglob("*"):
        if not source.is_file():
            continue
        target = cache_dir / source.relative_to(prebuilt)
        if target.exists() or target.is_symlink():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(source)
        made += 1
    return made


def configure(environ=None) -> dict[str, str]:
    """Apply :func:`numba_settings` to ``environ`` (default ``os.environ``); returns what it set.

    Called by :mod:`explorer._jit` before it imports numba. A cache folder that cannot be
    prepared (no writable home) leaves numba's own choice in place.
    """
    environ = os.environ if environ is None else environ
    settings = numba_settings(environ)
    if not settings:
        return {}
    cache_dir = Path(settings["NUMBA_CACHE_DIR"])
    prebuilt = Path(environ[BASE_VARIABLE]).expanduser() / settings["NUMBA_CPU_NAME"]
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        if cache_dir != prebuilt:
            link_prebuilt(prebuilt, cache_dir)
    except OSError:
        settings.pop("NUMBA_CACHE_DIR")
    environ.update(settings)
    return settings


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--levels"]:
        print(" ".join(supported_levels(read_cpu_flags())))
        return 0
    if argv:
        print("usage: python -m explorer._cpu [--levels]", file=sys.stderr)
        return 2
    for name, value in configure(dict(os.environ)).items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
