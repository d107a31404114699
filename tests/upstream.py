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
