"""Test helpers: run the compiler stages in memory on a stack file or YAML text."""

from __future__ import annotations

from pathlib import Path

from stackgen.compile.overlays import FileTree
from stackgen.driver import Checked, check_stack, compile_checked
from stackgen.load import load_bytes
from stackgen.model import Stack, build_model
from stackgen.place import Placement, place

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "stack.yaml"
CASES = Path(__file__).resolve().parent / "cases"
HEADER = """
apiVersion: stackgen.io/v1alpha1
kind: Stack
metadata: {name: t}
spec:
  gitops: {engine: argocd, repoURL: "https://github.com/a/b.git"}
"""
"""The start of a small stack for stage tests: append `clusters:` and the rest."""


def checked(path: Path) -> Checked:
    result = check_stack(path, path.name)
    assert isinstance(result, Checked), [d.render() for d in result.diagnostics]
    return result


def compiled(path: Path) -> FileTree:
    return compile_checked(checked(path)).files


def model_of(text: str) -> Stack:
    """A model straight from YAML text, skipping validation (for stage unit tests)."""
    loaded = load_bytes(text.encode())
    assert loaded.ok, loaded.diagnostics
    return build_model(loaded.tree)


def placed(text: str) -> tuple[Stack, Placement]:
    stack = model_of(text)
    return stack, place(stack)
