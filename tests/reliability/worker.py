"""A separate process that makes the perturbed calls, so a hang or a crash is caught.

The test process sends ``(key, parameter, value_key, value)`` cases over a pipe and waits for
each verdict with a timeout; a case that takes too long (or kills the process) is reported as
a hang and the worker is started afresh.
"""

from __future__ import annotations

import inspect
import multiprocessing
import time
import warnings

import numpy as np

from tests.reliability import battery, registry

CASE_TIMEOUT = 20.0  # seconds, compile time included (caches are warmed first)
_shared_client = None


def _client():
    global _shared_client
    if _shared_client is None:
        from dask.distributed import Client

        _shared_client = Client(processes=False, n_workers=1, threads_per_worker=1,
                                dashboard_address=None)
    return _shared_client


def arguments(key: str) -> dict:
    """The baseline arguments of ``key`` (shared client substituted)."""
    args = dict(registry.baselines()[key])
    for name, value in args.items():
        if isinstance(value, str) and value == registry._NO_CLIENT:
            args[name] = _client()
    return args


def parameters(key: str) -> list[str]:
    """The public parameters of ``key`` that the battery perturbs."""
    func, bound = registry.resolve(key)
    signature = inspect.signature(func)
    names = [name for name, p in signature.parameters.items()
             if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and not name.startswith("_")]
    return names[1:] if bound and names and names[0] == "self" else names


def call(key: str, args: dict):
    func, bound = registry.resolve(key)
    args = dict(args)
    if bound:
        instance = args.pop("self")
        func = getattr(instance, key.split(".")[-1])
    result = func(**args)
    if hasattr(result, "__enter__") and hasattr(result, "__exit__"):
        with result as entered:  # a context manager (a cluster): its checks run on entry
            return entered and None
    return result


def judge(key: str, parameter: str | None, args: dict) -> tuple[str, str]:
    """Make one call; return ("refused" | "ok" | "bad", detail)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call(key, args)
        except (ValueError, TypeError) as error:
            message = str(error)
            if parameter is None or battery.names_parameter(message, parameter):
                return "refused", f"{type(error).__name__}: {message}"
            return "bad", f"{type(error).__name__} does not name {parameter!r}: {message}"
        except Exception as error:  # noqa: BLE001 - every other exception is a defect here
            return "bad", f"{type(error).__name__}: {error}"
    complex_cut = [w for w in caught if issubclass(w.category, np.exceptions.ComplexWarning)]
    if complex_cut:
        return "bad", f"complex input silently cut to real: {complex_cut[0].message}"
    found = battery.unflagged_nonfinite(result)
    if found and not battery.nan_passes_through(key, args.get(parameter)):
        return "bad", f"unflagged non-finite value at {found}"
    problem = battery.equality_problem(result)
    if problem:
        return "bad", problem
    return "ok", type(result).__name__


def run_case(key: str, parameter: str | None, value_key: str | None, value=None):
    """Verdict of ``key`` with ``parameter`` set to the battery value (or to ``value``)."""
    args = arguments(key)
    if parameter is not None:
        if value_key is not None:
            value = battery.value_for(value_key, args.get(parameter))
            if value is None and value_key.startswith("like_"):
                return "skip", "not an array parameter"
        args[parameter] = value
    return judge(key, parameter, args)


def serve(connection) -> None:
    """Answer cases until the pipe closes."""
    while True:
        try:
            case = connection.recv()
        except EOFError:
            return
        started = time.perf_counter()
        try:
            verdict = run_case(*case)
        except Exception as error:  # noqa: BLE001 - a broken baseline is reported, not fatal
            verdict = ("bad", f"harness: {type(error).__name__}: {error}")
        connection.send((*verdict, time.perf_counter() - started))


class Worker:
    """The parent's handle: ``ask(case)`` returns a verdict, restarting after a hang."""

    def __init__(self):
        self._context = multiprocessing.get_context("spawn")
        self._start()

    def _start(self):
        self._parent, child = self._context.Pipe()
        self._process = self._context.Process(target=serve, args=(child,), daemon=True)
        self._process.start()
        child.close()

    def ask(self, case, timeout: float = CASE_TIMEOUT) -> tuple[str, str, float]:
        self._parent.send(case)
        if not self._parent.poll(timeout):
            self.restart()
            return "bad", f"no answer within {timeout:.0f} s (hang)", timeout
        try:
            return self._parent.recv()
        except EOFError:
            code = self._process.exitcode
            self.restart()
            return "bad", f"the process died (exit code {code})", 0.0

    def restart(self):
        self._process.kill()
        self._process.join()
        self._start()

    def close(self):
        self._parent.close()
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
