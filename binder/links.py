"""Point every Binder link at one repository: ``python binder/links.py OWNER/NAME [BRANCH]``.

The repository address is one setting, the ``REPO ?=`` (and ``BRANCH ?=``) line of the
Makefile; ``make binder-links REPO=owner/name`` runs this script, which rewrites those lines
and every ``https://mybinder.org/v2/gh/<owner>/<name>/<branch>`` link in the files of
:data:`LINKED` (the README's badge and dashboard links), then prints the links.
``--check`` only reports links that disagree with the Makefile (exit 1), for the tests.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAKEFILE = ROOT / "Makefile"
#: files whose Binder links follow the Makefile's REPO and BRANCH
LINKED = (ROOT / "README.md",)
LINK = re.compile(r"(https://mybinder\.org/v2/gh/)([\w.-]+/[\w.-]+)/([\w./-]+?)(?=[?)#\s\"'>]|$)")
SETTING = re.compile(r"^(REPO|BRANCH)(\s*\?=\s*)(\S+)\s*$", flags=re.M)
NAME = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
BRANCH_NAME = re.compile(r"[\w.][\w./-]*")


URL = re.compile(r"https://mybinder\.org/v2/gh/[^\s)\"'>\]]+")


def settings(makefile: Path = MAKEFILE) -> dict[str, str]:
    """The Makefile's ``REPO`` and ``BRANCH``."""
    return {match.group(1): match.group(3) for match in SETTING.finditer(makefile.read_text())}


def links(text: str) -> list[tuple[str, str]]:
    """Every Binder link of ``text`` as (repository, branch)."""
    return [(match.group(2), match.group(3)) for match in LINK.finditer(text)]


def rewrite(repo: str, branch: str, makefile: Path = MAKEFILE, linked=LINKED) -> list[str]:
    """Set the Makefile's lines and every link to ``repo`` and ``branch``; returns the links."""
    makefile.write_text(SETTING.sub(lambda m: m.group(1) + m.group(2)
                                    + (repo if m.group(1) == "REPO" else branch), makefile.read_text()))
    found = []
    for path in linked:
        text = LINK.sub(lambda m: f"{m.group(1)}{repo}/{branch}", path.read_text())
        path.write_text(text)
        found += URL.findall(text)
    return found


def disagreements(makefile: Path = MAKEFILE, linked=LINKED) -> list[str]:
    """Links that do not point at the Makefile's repository and branch."""
    want = settings(makefile)
    wrong = []
    for path in linked:
        for repo, branch in links(path.read_text()):
            if (repo, branch) != (want["REPO"], want["BRANCH"]):
                wrong.append(f"{path.name}: {repo}/{branch} (Makefile: {want['REPO']}/{want['BRANCH']})")
    return wrong


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        wrong = disagreements()
        print("\n".join(wrong) or "every Binder link follows the Makefile's REPO and BRANCH")
        return 1 if wrong else 0
    if not 1 <= len(argv) <= 2 or not NAME.fullmatch(argv[0]) or (
            len(argv) == 2 and not BRANCH_NAME.fullmatch(argv[1])):
        print(__doc__.splitlines()[0].split(": ", 1)[1], file=sys.stderr)
        return 2
    for link in rewrite(argv[0], argv[1] if len(argv) == 2 else settings().get("BRANCH", "main")):
        print(link)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
