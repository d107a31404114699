"""Every complete stack.yaml shown in the docs validates, so no reader copies a broken example.

A block counts as a complete stack when it is fenced as ```yaml and its first line that is not
blank or a comment is `apiVersion: stackgen.io/...`, as in the bundled stack.yaml. Fragments
(`spec:` excerpts, kustomizations, deployKF values) are left alone.
"""

from __future__ import annotations

import re
import tomllib
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from stackgen.cli import cli
from tests.compiling import BUNDLED, ROOT

FENCE = re.compile(r"^```yaml[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])


def stack_blocks(text: str) -> t.Iterator[tuple[int, str]]:
    """(line number of the block's first line, block text) for each complete stack in Markdown."""
    for match in FENCE.finditer(text):
        block = match.group(1)
        first = next((line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")), "")
        if first.startswith("apiVersion: stackgen.io/"):
            yield text.count("\n", 0, match.start(1)) + 1, block


def _all_blocks() -> list[tuple[str, str]]:
    return [(f"{path.relative_to(ROOT)}:{line}", block) for path in DOCUMENTS
            for line, block in stack_blocks(path.read_text("utf-8"))]


def _validate(block: str, tmp_path: Path) -> Result:
    stack = tmp_path / "stack.yaml"
    stack.write_text(block, "utf-8")
    return CliRunner().invoke(cli, ["validate", "-f", str(stack)], catch_exceptions=False)


@pytest.mark.parametrize(("where", "block"), _all_blocks(), ids=[w for w, _ in _all_blocks()])
def test_every_stack_in_the_docs_validates(where: str, block: str, tmp_path: Path) -> None:
    result = _validate(block, tmp_path)
    assert result.exit_code == 0, f"{where}: the stack.yaml shown there does not validate:\n{result.output}"


def test_the_docs_show_stacks_where_expected() -> None:
    # Guards the extraction itself: if the marker stopped matching, the test above would pass on nothing.
    found = {where.split(":")[0] for where, _ in _all_blocks()}
    assert {"README.md", "docs/migration.md"} <= found


def test_only_complete_stacks_are_picked() -> None:
    text = "\n".join([
        "```yaml", "apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization", "```",
        "```yaml", "spec:", "  secrets: []", "```",
        "```sh", "apiVersion: stackgen.io/v1alpha1", "```",
        "```yaml", "# a comment first", "", "apiVersion: stackgen.io/v1alpha1", "kind: Stack", "```",
    ])
    assert [line for line, _ in stack_blocks(text)] == [13]  # the line after its fence


def test_a_broken_stack_in_the_docs_would_fail(tmp_path: Path) -> None:
    markdown = "```yaml\n" + BUNDLED.read_text("utf-8").replace("cloud: aws", "cloud: amazon") + "```\n"
    [(_, block)] = list(stack_blocks(markdown))
    result = _validate(block, tmp_path)
    assert result.exit_code == 1 and "cloud" in result.output


def test_the_oldest_constraints_pin_exactly_the_floors_of_pyproject() -> None:
    # What the README's two commands install, at its oldest: the dependencies and the test extra.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors: dict[str, tuple[int, ...]] = {}
    for requirement in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        found = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9][0-9.]*)", requirement)
        if found:
            floors[found.group(1).lower()] = _release(found.group(2))
    oldest = (ROOT / ".ci" / "oldest.txt").read_text()
    pinned = {name.lower(): _release(version) for name, version in re.findall(r"(?m)^([A-Za-z0-9_.-]+)==([0-9][0-9.]*)$", oldest)}
    assert floors and floors == pinned


def _release(version: str) -> tuple[int, ...]:
    parts = [int(p) for p in version.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def test_the_architecture_walk_names_only_modules_and_functions_that_exist() -> None:
    """docs/architecture.md follows one field through the stages: each module it names is a
    file of the package, and each `module.function` it names is defined there."""
    import importlib
    import re

    text = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    modules = set(re.findall(r"`(?:stackgen/)?((?:compile/)?[a-z_]+\.py)`", text))
    assert {"load.py", "validate.py", "model.py", "place.py", "compile/overlays.py", "write.py", "render.py", "verify.py"} <= modules
    for module in modules:
        assert (ROOT / "stackgen" / module).is_file(), module
    for qualified in re.findall(r"`((?:driver|diagnostics|storage|render)\.(?!py`)[A-Za-z_]+)`", text):
        module, name = qualified.split(".")
        assert hasattr(importlib.import_module(f"stackgen.{module}"), name), qualified
