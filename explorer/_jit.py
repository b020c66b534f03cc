"""The one place that sets numba options for the whole package.

Every kernel is decorated with :func:`njit_cached` (serial), :func:`njit_parallel`
(``prange`` loops) or, for a product's inner blocks, :func:`njit_noalias`, so cache,
threading, aliasing and floating-point choices are made here once.

Why these options
-----------------
- ``cache=True``: compiled machine code is kept on disk, so a notebook's second start is
  instant. numba keys that cache on the Python function, not on the options, so each cached
  variant must be its own ``def`` (never two decorators around one function).
- No blanket ``fastmath=True``: it implies ``nnan``/``ninf``, which lets LLVM assume no NaN or
  inf exists, and several kernels here *detect* divergence by looking for them. We use
  :data:`SAFE_FASTMATH`, the flags that keep NaN/inf semantics.
- No ``reassoc`` either: it lets LLVM reorder a floating-point sum, and the vectoriser then
  emits two versions of a reduction loop (a vector one and a scalar one) chosen at run time by
  a pointer-overlap check. Which one runs depends on where the buffers happen to lie, so the
  same seed gave different bits in different processes (up to 1e-15 per pixel of a fractal
  scan). Kernels that need a vectorised sum write it with explicit, fixed-order lanes.
- ``error_model="numpy"``: a division by zero gives inf/NaN (a result we can flag) instead of
  raising inside a compiled loop.
- Cache freshness: numba checks a cached kernel against its own source file only, but a
  kernel carries the machine code of every function it calls or inlines from other modules.
  Edit one of those (or upgrade the package) and the old code kept running: a stale cache
  once hid an overflow fix here. :class:`_TopicStamp` stamps every kernel of the package with
  the sources of its whole folder (a topic) and of this module (the options), so a change
  anywhere in a topic recompiles that topic's kernels, and nothing else.
- Cache directory: numba writes beside the sources; when the install directory is read-only
  (a system or Binder install) and ``NUMBA_CACHE_DIR`` is unset, we point numba at a per-user
  cache so that import never fails.
- CPU level: with ``EXPLORER_NUMBA_CACHE_BASE`` set (Binder, a shared image),
  :mod:`explorer._cpu` picks the best prebuilt portable cache the CPU can run (``x86-64-v3``,
  ``x86-64-v2`` or ``generic``) before numba reads its configuration.
- ``noalias`` (:func:`njit_noalias`, for a product's innermost kernel only): numba cannot
  tell LLVM that two array arguments never overlap, so every vectorised loop that stores
  into one array and loads from others starts with run-time overlap checks, one per pair of
  rows. For a block of four output rows by eight input rows that is ~50 pairs (hundreds of
  instructions) each time the loop starts, about as long as the loop itself at 128 columns:
  the blending network's 256 x 256 products at 128 columns went from ~57 to ~68 GF/s on one
  core without them. The flag promises that the memory a function writes through one
  argument is reached through no other argument during the call.
- Threading layer: ``omp`` is preferred because ``workqueue`` aborts when several Python
  threads (a Dask worker's, a widget's background thread) enter parallel regions at once.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import tempfile
from pathlib import Path

from explorer._cpu import configure as _configure_cpu_level
from explorer._cpu import writable as _writable

#: LLVM fast-math flags that keep IEEE NaN/inf semantics (no ``nnan``, no ``ninf``) and the
#: written order of every sum (no ``reassoc``), so results are the same bits everywhere.
SAFE_FASTMATH = frozenset({"nsz", "arcp", "contract", "afn"})

_PACKAGE_DIR = Path(__file__).resolve().parent


def user_cache_dir() -> Path:
    """Per-user numba cache directory used when the package directory is read-only."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    candidate = base / "explorer" / "numba"
    if _writable(candidate):
        return candidate
    fallback = Path(tempfile.gettempdir()) / f"explorer-numba-{os.getuid()}"
    fallback.mkdir(mode=0o700, exist_ok=True)
    info = fallback.lstat()
    # numba's index files are pickles: never trust a shared-tmp directory someone else made
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        fallback = Path(tempfile.mkdtemp(prefix="explorer-numba-"))
    return fallback


def _configure_environment() -> None:
    _configure_cpu_level()
    if not os.environ.get("NUMBA_CACHE_DIR") and not _writable(_PACKAGE_DIR / "__pycache__"):
        os.environ["NUMBA_CACHE_DIR"] = str(user_cache_dir())
    os.environ.setdefault("NUMBA_THREADING_LAYER_PRIORITY", "omp tbb workqueue")


_configure_environment()

import numba  # noqa: E402  (the environment above must be set before numba reads it)

# numba may already have been imported by the user; make sure its config agrees.
if os.environ.get("NUMBA_CACHE_DIR"):
    numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]
if os.environ.get("NUMBA_CPU_NAME"):
    numba.config.CPU_NAME = os.environ["NUMBA_CPU_NAME"]
    numba.config.CPU_FEATURES = os.environ.get("NUMBA_CPU_FEATURES", numba.config.CPU_FEATURES)

from numba.core import caching as _caching  # noqa: E402
from numba.core.compiler import Compiler as _Compiler  # noqa: E402


@functools.cache
def topic_stamp(folder: str) -> str:
    """Content hash of the Python sources in ``folder`` and of this module (the jit options)."""
    digest = hashlib.sha256()
    for source in sorted(Path(folder).glob("*.py")) + [Path(__file__)]:
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


class _TopicStamp:
    """A numba cache locator mixin: a package kernel's cache is fresh only while its topic is.

    numba's own stamp hashes the function's file; this one hashes the whole folder (see the
    module notes). Functions outside the package keep numba's locators.
    """

    def get_source_stamp(self):
        return "explorer-topic-" + topic_stamp(os.path.dirname(os.path.realpath(self._py_file)))

    @classmethod
    def from_function(cls, py_func, py_file):
        if not Path(os.path.realpath(py_file)).is_relative_to(_PACKAGE_DIR):
            return None
        return super().from_function(py_func, py_file)


def _numba_class(name: str):
    """A class of numba's caching module; numba 0.68 dropped the leading underscore."""
    return getattr(_caching, name, None) or getattr(_caching, "_" + name)


class _TopicUserProvidedLocator(_TopicStamp, _numba_class("UserProvidedCacheLocator")):
    """NUMBA_CACHE_DIR set (a read-only install, a prebuilt cache): topic-stamped."""


class _TopicInTreeLocator(_TopicStamp, _numba_class("InTreeCacheLocator")):
    """Beside the sources, in __pycache__: topic-stamped."""


_LOCATORS = _numba_class("CacheImpl")._locator_classes
if not any(issubclass(locator, _TopicStamp) for locator in _LOCATORS):
    _LOCATORS[:0] = [_TopicUserProvidedLocator, _TopicInTreeLocator]

_COMMON = {"cache": True, "nogil": True, "fastmath": set(SAFE_FASTMATH), "error_model": "numpy"}


def _decorate(func, options):
    if func is None:
        return lambda f: numba.njit(**options)(f)
    return numba.njit(**options)(func)


def njit_cached(func=None, **overrides):
    """``numba.njit`` with the package's options (cached, no-GIL, safe fast-math).

    Use as ``@njit_cached`` or ``@njit_cached(inline="always")``.
    """
    return _decorate(func, {**_COMMON, **overrides})


class _NoAliasCompiler(_Compiler):
    """numba's compiler with every pointer argument marked ``noalias`` (the flag exists in
    numba, used for its parallel loops, but ``njit`` does not take it as an option)."""

    def define_pipelines(self):
        self.state.flags.noalias = True
        return super().define_pipelines()


def njit_noalias(func=None, **overrides):
    """Like :func:`njit_cached`, and the caller promises that no argument shares memory the
    function writes with any other argument (LLVM then drops its run-time overlap checks).

    Breaking the promise gives wrong results silently: keep such a function small (an inner
    product block), never ``inline`` it (inlining by numba would drop the promise), and check
    its callers.
    """
    return _decorate(func, {**_COMMON, "pipeline_class": _NoAliasCompiler, **overrides})


def njit_parallel(func=None, **overrides):
    """Like :func:`njit_cached` with ``parallel=True`` for kernels that use ``numba.prange``."""
    return _decorate(func, {**_COMMON, "parallel": True, **overrides})


def blas_threads(count: int):
    """Context manager limiting every loaded BLAS (numpy's, scipy's, so numba's ``np.dot``).

    Kernels that call BLAS from a loop of small products (grokking's training step) run
    3-10x slower when OpenBLAS threads compete with other work for the cores, and gain
    little from them when they do not; their callers hold BLAS to ``count`` threads.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=count, user_api="blas")


def set_num_threads(n: int | None) -> int:
    """Limit numba's worker threads (e.g. one per Dask task); ``None`` restores all cores.

    Returns the previous thread count.
    """
    previous = numba.get_num_threads()
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS if n is None else max(1, int(n)))
    return previous
