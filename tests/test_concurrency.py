"""Concurrent runs on the same output: they take turns (flock on the output directory), so the
result is always one run's complete tree, never a mix; a run that waits too long says why (exit 2)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from stackgen import write as writer
from tests.compiling import BUNDLED, CASES, compiled
from tests.running import (
    ROOT,
    argv,
    bookkeeping,
    edited_stack,
    environment,
    lock_matches,
    tree,
)
from tests.upstream import UPSTREAM, requires_upstream

ROUNDS = 4
RENDER_ROUNDS = 3
STACKS = (BUNDLED, *(CASES / "positive" / name / "stack.yaml" for name in ("gcp-serving", "minimal", "aws-training")))
CLUSTER = "edge-store17"


def _all_at_once(commands: list[list[str]], env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    processes = [subprocess.Popen(c, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
    results = []
    for command, process in zip(commands, processes):
        stdout, stderr = process.communicate(timeout=600)
        results.append(subprocess.CompletedProcess(command, process.returncode, stdout, stderr))
    return results


def _succeeded_or_busy(results: list[subprocess.CompletedProcess[str]]) -> list[int]:
    """Indexes of the runs that wrote; every other one must have failed clearly as busy."""
    for result in results:
        assert "Traceback" not in result.stderr, result.stderr
        assert result.returncode == 0 or (result.returncode == 2 and "another stackgen run" in result.stderr), result.stderr
    return [i for i, result in enumerate(results) if result.returncode == 0]


def test_four_simultaneous_builds_leave_exactly_one_complete_tree(tmp_path: Path) -> None:
    trees = [dict(compiled(path)) for path in STACKS]
    assert len({tuple(sorted(tree_)) for tree_ in trees}) == len(STACKS)
    env = environment()
    for round_ in range(ROUNDS):
        out = tmp_path / "overlays"
        if round_ % 2:
            # Odd rounds start from an existing tree: the runs also prune each other's files.
            writer.write(out, trees[round_ % len(trees)])
        # Rotate which stack starts first, so the winner is not always the same.
        order = [(round_ + i) % len(STACKS) for i in range(len(STACKS))]
        results = _all_at_once([argv("build", "-f", str(STACKS[i]), "-o", str(out)) for i in order], env)
        assert _succeeded_or_busy(results)
        assert tree(out) in trees, "concurrent builds left a mixed tree"
        assert bookkeeping(out) == {writer.LOCK_NAME} and lock_matches(out)


@pytest.fixture(scope="module")
def overlays(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Stack file and overlays for the bundled stack (A) and a one-field edit of it (B)."""
    root = tmp_path_factory.mktemp("concurrent-render")
    stacks = {"A": BUNDLED, "B": edited_stack(root)}
    pairs = {}
    for name, path in stacks.items():
        out = root / f"overlays-{name}"
        writer.write(out, compiled(path))
        pairs[name] = (path, out)
    return pairs


def _render(stack: tuple[Path, Path], golden: Path) -> list[str]:
    path, out = stack
    return argv("render", "-f", str(path), "--overlays", str(out), "--upstream", str(UPSTREAM), "--cluster", CLUSTER,
                "--quiet", "-o", str(golden))


@requires_upstream
def test_two_renders_sharing_an_empty_cache_agree_and_leave_no_torn_entry(tmp_path: Path, overlays: dict[str, tuple[Path, Path]]) -> None:
    cache = tmp_path / "cache"
    env = environment(XDG_CACHE_HOME=str(cache))
    goldens = [tmp_path / "golden-1", tmp_path / "golden-2"]
    results = _all_at_once([_render(overlays["A"], golden) for golden in goldens], env)
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    assert tree(goldens[0]) == tree(goldens[1]) and tree(goldens[0])
    entries = sorted(p for p in cache.rglob("*") if p.is_file())
    assert entries, "the renders cached nothing"
    for entry in entries:
        assert not entry.name.startswith(".tmp-"), f"a temporary cache file was left behind: {entry}"
        assert isinstance(json.loads(entry.read_text("utf-8")), list | dict), entry  # renders are lists, goldens and verify results maps

    # Same golden folder, different stacks, warm cache: one complete golden tree wins.
    golden = tmp_path / "golden"
    expected = {"A": tree(goldens[0]), "B": tree(_written(tmp_path / "alone-B", overlays["B"], env))}
    assert expected["A"] != expected["B"]
    for _ in range(RENDER_ROUNDS):
        results = _all_at_once([_render(overlays["A"], golden), _render(overlays["B"], golden)], env)
        assert _succeeded_or_busy(results)
        assert tree(golden) in (expected["A"], expected["B"]), "concurrent renders left mixed goldens"
        assert bookkeeping(golden) == {writer.LOCK_NAME} and lock_matches(golden)


def _written(golden: Path, stack: tuple[Path, Path], env: dict[str, str]) -> Path:
    done = subprocess.run(_render(stack, golden), cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return golden
