"""Bad inputs: each gets its exact diagnostics (file:line:col), from the stages themselves and
through the real CLI (exit 1, nothing on stdout, an existing output directory left exactly as it
was).

Each case is tests/cases/negative/<case>/{stack.yaml,expected.txt}; expected.txt is the exact
`render_text` of the diagnostics for a file named `stack.yaml`, which is also the CLI's stderr.
Write a new case's expected.txt by hand (or print it once) and check that every line:col points
at the offending node: there is deliberately no switch that rewrites them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from stackgen.cli import cli
from stackgen.diagnostics import render_text
from stackgen.driver import Rejected, check_loaded
from stackgen.load import load_bytes
from tests.compiling import BUNDLED, CASES

NEGATIVE = sorted(p for p in (CASES / "negative").iterdir() if (p / "stack.yaml").is_file())


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("previous") / "overlays"
    result = CliRunner().invoke(cli, ["build", "-f", str(BUNDLED), "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def test_corpus_is_large_enough() -> None:
    assert len(NEGATIVE) >= 24


@pytest.mark.parametrize("case", NEGATIVE, ids=[p.name for p in NEGATIVE])
def test_the_stages_report_exactly(case: Path) -> None:
    checked = check_loaded(load_bytes((case / "stack.yaml").read_bytes(), "stack.yaml"))
    assert isinstance(checked, Rejected)
    assert render_text(checked.diagnostics) == (case / "expected.txt").read_text()


@pytest.mark.parametrize("command", [["build"], ["build", "--check"], ["validate"]])
@pytest.mark.parametrize("case", NEGATIVE, ids=[p.name for p in NEGATIVE])
def test_bad_input_is_reported_exactly_and_touches_nothing(case: Path, command: list[str], built_output: Path, tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_bytes((case / "stack.yaml").read_bytes())
    before = _snapshot(built_output)
    output = ["-o", str(built_output)] if command[0] == "build" else []
    result = CliRunner().invoke(cli, [*command, "-f", str(stack), *output], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert result.stderr.replace(str(stack), "stack.yaml") == (case / "expected.txt").read_text()
    assert result.stdout == ""
    assert _snapshot(built_output) == before
    assert [p.name for p in tmp_path.iterdir()] == ["stack.yaml"]
