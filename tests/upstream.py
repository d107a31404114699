"""Where the pinned upstream mirror is, a marker for tests that need it, and a stack rendered against it."""

from __future__ import annotations

import os
import typing as t
from dataclasses import dataclass
from pathlib import Path

import pytest

from stackgen import kustomize as kz
from stackgen import render as render_
from stackgen.compile.overlays import FileTree
from stackgen.driver import Checked, compile_checked
from stackgen.model import Stack
from stackgen.render import ClusterRender
from tests.compiling import checked

UPSTREAM = Path(os.environ.get("STACKGEN_UPSTREAM") or Path(__file__).resolve().parents[1].parent / "shared" / "upstream")

requires_upstream = pytest.mark.skipif(
    not (UPSTREAM / "remotes.yaml").is_file(),
    reason=f"needs the pinned upstream mirror at {UPSTREAM} (../shared/upstream beside the repo, or $STACKGEN_UPSTREAM); absent here",
)

# One mirror per supported release, side by side as ../shared holds them.
MIRRORS: dict[str, Path] = {
    "26.03": UPSTREAM,
    "v1.11.0": Path(os.environ.get("STACKGEN_UPSTREAM_V1_11_0") or UPSTREAM.parent / "upstream-v1.11.0"),
}

requires_both_releases = pytest.mark.skipif(
    not all((m / "remotes.yaml").is_file() for m in MIRRORS.values()),
    reason=f"needs both pinned upstream mirrors ({', '.join(str(m) for m in MIRRORS.values())}); absent here",
)


@dataclass(frozen=True)
class RenderedStack:
    """A stack file compiled, written as `stackgen build` would and rendered against a mirror."""

    checked: Checked
    files: FileTree  # compiled, engine objects included
    overlays: Path
    renders: t.Mapping[str, ClusterRender]  # cluster -> its render

    @property
    def stack(self) -> Stack:
        return self.checked.stack


def compile_and_render(stack_file: Path, overlays: Path, kustomize: kz.Kustomize, mirror: Path = UPSTREAM) -> RenderedStack:
    """The suite's shared render cache is keyed by content: every test file reuses what it holds."""
    result = checked(stack_file)
    compiled = compile_checked(result)
    for path, content in compiled.files.items():
        (overlays / path).parent.mkdir(parents=True, exist_ok=True)
        (overlays / path).write_bytes(content)
    rendered = render_.render(overlays, mirror, kustomize, compiled.layout, cache=render_.cache_root())
    assert [c.error for c in rendered.clusters if c.error] == []
    return RenderedStack(result, compiled.files, overlays, {c.cluster: c for c in rendered.clusters})
