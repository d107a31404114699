"""Golden tests for the compiler: tests/cases/positive/<case>/stack.yaml -> expected/.

Regenerate after an intended change, then review the diff:
    python -m pytest tests/test_golden.py --update-goldens && git diff tests/cases
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from tests.compiling import CASES, compiled

POSITIVE = sorted(p for p in (CASES / "positive").iterdir() if (p / "stack.yaml").is_file())


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _explain(expected: dict[str, bytes], actual: dict[str, bytes]) -> str:
    lines = [f"MISSING {p}" for p in sorted(expected.keys() - actual.keys())]
    lines += [f"EXTRA   {p}" for p in sorted(actual.keys() - expected.keys())]
    for path in sorted(expected.keys() & actual.keys()):
        if expected[path] != actual[path]:
            lines += difflib.unified_diff(
                expected[path].decode().splitlines(), actual[path].decode().splitlines(),
                f"expected/{path}", f"actual/{path}", lineterm="",
            )
    return "\n".join(lines)


@pytest.mark.parametrize("case", POSITIVE, ids=[p.name for p in POSITIVE])
def test_compiled_tree_matches_golden(case: Path, update_goldens: bool) -> None:
    actual = compiled(case / "stack.yaml")
    expected_root = case / "expected"
    if update_goldens:
        shutil.rmtree(expected_root, ignore_errors=True)
        for path, content in actual.items():
            (expected_root / path).parent.mkdir(parents=True, exist_ok=True)
            (expected_root / path).write_bytes(content)
    expected = _tree(expected_root)
    assert expected == actual, "compiled tree differs from golden (rerun with --update-goldens and review):\n" + _explain(expected, actual)


def test_every_case_has_a_golden() -> None:
    assert len(POSITIVE) >= 5
    assert all((case / "expected").is_dir() for case in POSITIVE)
