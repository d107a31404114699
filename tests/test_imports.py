"""Every module imports on its own, first, in a fresh interpreter: an import cycle between stages
(place and compile once had one) shows up whichever module a user or a test happens to load first."""

from __future__ import annotations

import subprocess
import sys

from tests.compiling import ROOT

PACKAGE = ROOT / "stackgen"
# Forget every stackgen module, then import one: each import starts from nothing loaded.
_FRESH_IMPORTS = """
import importlib, sys
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "stackgen" or m.startswith("stackgen.")]:
        del sys.modules[loaded]
    importlib.import_module(name)
"""


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] != "__main__":  # running it runs the CLI
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_module_imports_first_on_its_own() -> None:
    done = subprocess.run([sys.executable, "-c", _FRESH_IMPORTS, *_modules()], cwd=ROOT, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr


# What `stackgen validate` must not load: the stages after place, and the libraries only they use.
# Start-up is paid by every command, in CI and in editors on every keystroke (issue 19).
_LATER_STAGES = ("stackgen.render", "stackgen.verify", "stackgen.firstsync", "stackgen.explain", "stackgen.prerequisites",
                 "stackgen.compile.overlays", "stackgen.compile.gitops", "stackgen.plan", "jinja2", "kubernetes_validate", "deepdiff")
_VALIDATE_AND_LIST = """
import sys
from stackgen.cli import main
sys.argv = ["stackgen", "validate", "-q", "-f", sys.argv[1]]
try:
    main()
except SystemExit as done:
    assert done.code == 0, done.code
print("\\n".join(sorted(sys.modules)))
"""


def test_validate_loads_no_stage_after_place() -> None:
    stack = ROOT / "stack.yaml"
    done = subprocess.run([sys.executable, "-c", _VALIDATE_AND_LIST, str(stack)], cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    assert "stackgen.place" in loaded  # the run did reach placement
    assert sorted(loaded.intersection(_LATER_STAGES)) == []
