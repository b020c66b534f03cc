"""Refresh the README pictures in ``docs/`` from the browser tests' view screenshots.

    .venv/bin/python tests/browser/screenshots.py            # every lesson that has a picture name
    .venv/bin/python tests/browser/screenshots.py fractal    # only docs/fractal.png
    .venv/bin/python tests/browser/screenshots.py --no-run   # copy what tests/artifacts holds

It runs ``tests/browser`` for the chosen notebooks with ``EXPLORER_BROWSER_RENDER=1`` (the
first view's "Render" button is clicked and the test waits for the full-quality picture) and
``EXPLORER_BROWSER_QUICK=0`` unless ``--quick`` (the notebooks' full settings, not the test
suite's small ones), then copies ``tests/artifacts/browser/<notebook>-view.png`` to
``docs/<picture>.png``. Needs Chromium (see ``.ci/run``). Commit the pictures yourself.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"
DOCS = ROOT / "docs"
#: notebook stem -> picture name in docs/ (lessons without an entry get no picture)
PICTURES = {
    "01_fractal_trainability": "fractal",
    "02_grokking": "grokking",
    "03_koopman": "koopman",
    "04_diffusion_blending": "blending",
    "06_blending_images": "blending_images",
    "07_groups": "groups",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pictures", nargs="*", help=f"picture names (default: all of {sorted(PICTURES.values())})")
    parser.add_argument("--no-run", action="store_true", help="only copy existing screenshots")
    parser.add_argument("--quick", action="store_true", help="run the notebooks with EXPLORER_QUICK=1")
    parser.add_argument("--preview", action="store_true", help="do not click Render (preview pictures)")
    args = parser.parse_args(argv)

    unknown = set(args.pictures) - set(PICTURES.values())
    if unknown:
        parser.error(f"unknown picture(s) {sorted(unknown)}; known: {sorted(PICTURES.values())}")
    wanted = {stem: picture for stem, picture in PICTURES.items()
              if (ROOT / "notebooks" / f"{stem}.ipynb").exists()
              and (not args.pictures or picture in args.pictures)}
    if not wanted:
        print("no notebook to photograph", file=sys.stderr)
        return 1

    if not args.no_run:
        env = {**os.environ, "EXPLORER_BROWSER_RENDER": "0" if args.preview else "1",
               "EXPLORER_BROWSER_QUICK": "1" if args.quick else "0",
               "EXPLORER_BROWSER_CHECK_PREVIEWS": "0"}  # pictures only: `make test` times the previews
        selection = " or ".join(f"[{stem}]" for stem in wanted)
        command = [sys.executable, "-m", "pytest", "tests/browser/test_lab.py", "-q",
                   "-p", "no:cacheprovider", "-k", selection]
        if subprocess.run(command, cwd=ROOT, env=env).returncode != 0:
            print("browser tests failed; docs/ left unchanged", file=sys.stderr)
            return 1

    DOCS.mkdir(exist_ok=True)
    for stem, picture in wanted.items():
        source = ARTIFACTS / f"{stem}-view.png"
        if not source.exists():
            print(f"missing {source.relative_to(ROOT)} (run without --no-run)", file=sys.stderr)
            return 1
        shutil.copyfile(source, DOCS / f"{picture}.png")
        print(f"docs/{picture}.png <- {source.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
