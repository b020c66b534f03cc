"""Fixtures for the browser tests: one JupyterLab server and one headless Chromium per session.

The server runs from this interpreter's environment on a free loopback port with a random
token, serves a temporary copy of ``notebooks/`` (its saves never reach the repository), uses a
throw-away Jupyter config/data/runtime/settings/workspace tree (nothing leaks into or out of
``~/.jupyter``), autosave off, the news toast and its plugin disabled, every notebook cell kept
in the DOM (``windowingMode: none``) and ``EXPLORER_QUICK=1`` so the lessons run fast.
``EXPLORER_BROWSER_NOTEBOOK_DIR`` (and ``EXPLORER_BROWSER_DASHBOARD_DIR``) point the tests at
another folder of notebooks (dashboards) to develop the tests themselves;
``tests/browser/screenshots.py`` sets ``EXPLORER_BROWSER_QUICK=0`` and
``EXPLORER_BROWSER_RENDER=1`` to take full-quality pictures for ``docs/``.

``voila_server`` serves a copy of ``dashboards/`` the same way (loopback, random token). The
times the tests measure (``measure.LATENCY``) are merged into
``tests/artifacts/browser/latency.json`` when the session ends.

Chromium is Debian's (``/usr/bin/chromium``); no browser is ever downloaded. Without one the
tests skip, or fail when ``EXPLORER_REQUIRE_BROWSER=1`` (set by ``.ci/run``).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser.measure import LATENCY

ROOT = Path(__file__).resolve().parents[2]
#: the notebooks under test (override to develop against another folder)
NOTEBOOK_DIR = Path(os.environ.get("EXPLORER_BROWSER_NOTEBOOK_DIR") or ROOT / "notebooks").resolve()
#: the dashboards under test (and the one-view notebooks test_reopen.py saves and reopens)
DASHBOARD_DIR = Path(os.environ.get("EXPLORER_BROWSER_DASHBOARD_DIR") or ROOT / "dashboards").resolve()
ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
# the network is closed: without these Chromium keeps retrying Google services
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--disable-extensions", "--disable-breakpad",
                 "--disable-dev-shm-usage", "--metrics-recording-only", "--no-default-browser-check",
                 "--mute-audio", "--hide-scrollbars"]
LAB_START_SECONDS = 90
LATENCY_FILE = ARTIFACTS / "latency.json"
#: notebooks run with EXPLORER_QUICK=1 unless EXPLORER_BROWSER_QUICK=0 (screenshots.py, for docs/)
QUICK = os.environ.get("EXPLORER_BROWSER_QUICK", "1") != "0"


def find_chromium() -> str | None:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        message = (f"no Chromium at {CHROMIUM} or on PATH; install Debian's package "
                   "(`apt-get install chromium`, which .ci/run does when run as root)")
        if os.environ.get("EXPLORER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"EXPLORER_REQUIRE_BROWSER=1 but {message}", pytrace=False)
        pytest.skip(message)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:  # a dev dependency; treat it like the browser
        if os.environ.get("EXPLORER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"EXPLORER_REQUIRE_BROWSER=1 but playwright is missing: {error}", pytrace=False)
        pytest.skip(f"playwright is not installed: {error}")
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


class LabServer:
    """A running ``jupyter lab``: ``url(path)`` gives an authenticated address; ``root`` is the
    folder it serves (a copy)."""

    def __init__(self, process: subprocess.Popen, port: int, token: str, log: Path, root: Path):
        self.process, self.port, self.token, self.log, self.root = process, port, token, log, root
        self.base = f"http://127.0.0.1:{port}"

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}?token={self.token}"

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url("api/status"), timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@pytest.fixture(scope="session")
def lab_server(chromium_path, tmp_path_factory) -> LabServer:
    home = tmp_path_factory.mktemp("jupyter")
    config, data, runtime = home / "config", home / "data", home / "runtime"
    settings, workspaces = home / "user-settings", home / "workspaces"
    # serve a copy: JupyterLab saves (autosave, checkpoints) must never touch notebooks/
    served = home / "notebooks"
    shutil.copytree(NOTEBOOK_DIR, served, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for folder in (config, data, runtime, settings, workspaces):
        folder.mkdir()
    # no "get notified about Jupyter news" toast: switch the plugin off and say "never"
    _write_json(config / "labconfig" / "page_config.json",
                {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    _write_json(settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings",
                {"fetchNews": "false", "checkForUpdates": False})
    _write_json(settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings",
                {"autosave": False})
    # every cell stays attached, so every figure renders and can be found
    _write_json(settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings",
                {"windowingMode": "none"})

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "jupyterlab.log"
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "EXPLORER_QUICK": "1" if QUICK else "0", "JUPYTER_CONFIG_DIR": str(config),
           "JUPYTER_DATA_DIR": str(data), "JUPYTER_RUNTIME_DIR": str(runtime),
           "IPYTHONDIR": str(home / "ipython"), "JUPYTER_PLATFORM_DIRS": "1",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    env.pop("JUPYTER_PATH", None)
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={served}",
               f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={workspaces}",
               "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False"]
    if os.getuid() == 0:
        command.append("--allow-root")
    yield from _serve(LabServer, "jupyter lab", command, env, port, token, log, served)


def _serve(kind, name: str, command: list[str], env: dict, port: int, token: str, log: Path, served: Path):
    """Start ``command`` serving ``served``; yield a ``kind`` once it answers, stop it afterwards."""
    with log.open("w") as log_file:
        process = subprocess.Popen(command, cwd=served, env=env, stdout=log_file,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = kind(process, port, token, log, served)
    try:
        deadline = time.monotonic() + LAB_START_SECONDS
        while not server.answers():
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}:\n{server.log_tail()}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"{name} did not answer in {LAB_START_SECONDS} s:\n{server.log_tail()}",
                            pytrace=False)
            time.sleep(0.25)
        yield server
    finally:
        process.terminate()  # SIGTERM: the server shuts its kernels down
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    page.console_messages = messages
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session", autouse=True)
def latency_report():
    """Merge this session's timings into latency.json (entries of notebooks not run are kept)."""
    yield LATENCY
    if not any(LATENCY.values()):
        return
    try:
        saved = json.loads(LATENCY_FILE.read_text())
    except (OSError, ValueError):
        saved = {}
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    for kind, entries in LATENCY.items():
        saved.setdefault(kind, {}).update({name: {**entry, "measured": stamp}
                                           for name, entry in entries.items()})
    _write_json(LATENCY_FILE, saved)


class VoilaServer(LabServer):
    """A running ``voila`` over a folder of dashboards: ``url(path)`` gives an authenticated address."""

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url(""), timeout=2) as response:
                return response.status == 200
        except OSError:
            return False


@pytest.fixture(scope="session")
def voila_server(chromium_path, tmp_path_factory) -> VoilaServer:
    home = tmp_path_factory.mktemp("voila")
    served = home / "dashboards"
    shutil.copytree(DASHBOARD_DIR, served, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "voila.log"
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / "ipython"),
           "JUPYTER_PLATFORM_DIRS": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    env.pop("JUPYTER_PATH", None)
    env.pop("EXPLORER_QUICK", None)  # a dashboard is what students get: full settings
    command = [sys.executable, "-m", "voila", str(served), "--no-browser", "--Voila.ip=127.0.0.1",
               f"--port={port}", f"--token={token}", "--Voila.port_retries=0"]
    yield from _serve(VoilaServer, "voila", command, env, port, token, log, served)
