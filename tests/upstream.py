"""Where the pinned upstream mirror is, and a marker for tests that need it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
