"""The one place that lists the stages and their order.

    load -> validate -> model -> place -> compile -> write

Each stage runs only when the ones before it found no error, so no stage ever sees input an
earlier stage rejected; diagnostics from every stage that ran are returned together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stackgen import write as writer
from stackgen.compile import FileTree, compile_stack
from stackgen.diagnostics import Diagnostic, has_errors, locate
from stackgen.load import Loaded, load_file
from stackgen.model import Stack, build_model
from stackgen.place import Placement, place
from stackgen.validate import validate


@dataclass(frozen=True)
class Checked:
    loaded: Loaded
    diagnostics: tuple[Diagnostic, ...]
    stack: Stack | None = None
    placement: Placement | None = None

    @property
    def ok(self) -> bool:
        return self.stack is not None and self.placement is not None and not has_errors(self.diagnostics)


def check_stack(path: Path, display: str | None = None) -> Checked:
    loaded = load_file(str(path), display)
    if not loaded.ok:
        return Checked(loaded, loaded.diagnostics)
    # Schema and cross-reference errors first: the model assumes a valid tree.
    diagnostics = validate(loaded)
    if has_errors(diagnostics):
        return Checked(loaded, tuple(diagnostics))
    stack = build_model(loaded.tree)
    # Placement can still refuse (an edge cluster asked to run a mesh): located at the culprit.
    placement = place(stack)
    diagnostics += locate(placement.findings, loaded.file, loaded.source)
    return Checked(loaded, tuple(sorted(diagnostics)), stack, placement)


def compile_checked(checked: Checked) -> FileTree:
    assert checked.stack is not None and checked.placement is not None
    return compile_stack(checked.stack, checked.placement)


def default_output(stack_file: Path, stack: Stack) -> Path:
    """Beside stack.yaml, at `spec.gitops.path` (where the engine objects say it is)."""
    return stack_file.parent / stack.gitops.path


def build(files: FileTree, out: Path, check_only: bool) -> writer.Changes:
    return writer.check(out, files) if check_only else writer.write(out, files)
