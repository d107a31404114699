"""Crash safety by fault injection: `stackgen build` and `stackgen render` killed with SIGKILL at
seeded random moments while they replace one tree by another.

What a kill may leave, and what the next run must make of it (write.py's protocol):
  - no journal: the tree (lock, journal and staging aside) is entirely the old one or entirely
    the new one; a staging folder or a `.tmp` may lie beside it;
  - a journal: the kill hit after the commit point; recovery (the first thing any writing run
    does) must roll it forward to exactly the new tree.
After recovery the tree is one of the two, the lock names exactly its files, and nothing but the
lock is left of the bookkeeping.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from stackgen import write as writer
from tests.compiling import BUNDLED, CASES, compiled
from tests.running import ROOT, argv, bookkeeping, environment, lock_matches, run, tree
from tests.upstream import UPSTREAM, requires_upstream

BUILD_KILLS = 48
RENDER_KILLS = 16


def _timed(args: list[str], env: dict[str, str]) -> float:
    start = time.monotonic()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return time.monotonic() - start


def _delays(rng: random.Random, duration: float, count: int) -> list[float]:
    """A third spread over the whole run, the rest over its last 30 %, where the files are written:
    uniform timing alone would spend most kills on interpreter start-up and compiling."""
    early = [rng.uniform(0, duration) for _ in range(count // 3)]
    late = [rng.uniform(0.7 * duration, duration) for _ in range(count - count // 3)]
    return early + late


def _kill_after(args: list[str], env: dict[str, str], delay: float) -> int:
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
    return process.wait()


def _observe_and_recover(out: Path, old: dict[str, bytes], new: dict[str, bytes]) -> str:
    """Check what the kill left, recover as the next run would, and name the outcome."""
    journal = (out / writer.JOURNAL_NAME).exists()
    if not journal:
        assert tree(out) in (old, new), "a kill without a journal left a mixed tree"
    writer.recover(out)
    after = tree(out)
    assert after == new if journal else after in (old, new), "recovery left a mixed tree"
    assert bookkeeping(out) == {writer.LOCK_NAME}, f"leftovers after recovery: {bookkeeping(out)}"
    assert lock_matches(out), "the lock does not match the files after recovery"
    if journal:
        return "rolled forward"
    return "old kept" if after == old else "new complete"


def test_build_killed_48_times_at_random_leaves_the_old_or_the_new_tree(tmp_path: Path) -> None:
    stacks = {"A": BUNDLED, "B": CASES / "positive" / "gcp-serving" / "stack.yaml"}
    trees = {name: dict(compiled(path)) for name, path in stacks.items()}
    assert set(trees["A"]) - set(trees["B"]) and set(trees["B"]) - set(trees["A"]), "each switch must add and prune files"
    out = tmp_path / "overlays"
    env = environment()
    build = {name: argv("build", "-f", str(path), "-o", str(out)) for name, path in stacks.items()}
    duration = max(_timed(build["B"], env), _timed(build["A"], env))
    assert tree(out) == trees["A"]

    rng = random.Random(20261125)
    outcomes: Counter[str] = Counter()
    state = "A"
    for delay in _delays(rng, duration, BUILD_KILLS):
        target = "B" if state == "A" else "A"
        returncode = _kill_after(build[target], env, delay)
        assert returncode in (0, -signal.SIGKILL)
        outcome = _observe_and_recover(out, trees[state], trees[target])
        outcomes[outcome] += 1
        state = state if outcome == "old kept" else target
    # Both ends were reached: the kills did land before and after the commit point.
    assert outcomes["old kept"] and outcomes["new complete"] + outcomes["rolled forward"], outcomes
    assert sum(outcomes.values()) == BUILD_KILLS
    # A normal run on top of whatever is left finishes the job.
    done = run("build", "-f", str(stacks["B"]), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert tree(out) == trees["B"] and lock_matches(out)


def _edited_stack(tmp_path: Path) -> Path:
    """The bundled stack with one field changed: one cluster's goldens differ."""
    text = BUNDLED.read_text("utf-8")
    assert "store17.edge.acme.example.com" in text
    path = tmp_path / "b" / "stack.yaml"
    path.parent.mkdir()
    path.write_text(text.replace("store17.edge.acme.example.com", "store18.edge.acme.example.com"), "utf-8")
    return path


@requires_upstream
def test_render_killed_16_times_at_random_leaves_old_or_new_goldens(tmp_path: Path) -> None:
    stacks = {"A": BUNDLED, "B": _edited_stack(tmp_path)}
    overlays = {name: tmp_path / f"overlays-{name}" for name in stacks}
    for name, path in stacks.items():
        writer.write(overlays[name], compiled(path))
    golden = tmp_path / "golden"
    env = environment(XDG_CACHE_HOME=str(tmp_path / "cache"))
    render = {name: argv("render", "-f", str(path), "--overlays", str(overlays[name]), "--upstream", str(UPSTREAM),
                         "--cluster", "edge-store17", "--quiet", "-o", str(golden)) for name, path in stacks.items()}
    # Warm the cache and record both golden trees: each run is then short and mostly writing.
    _timed(render["A"], env)
    _timed(render["B"], env)
    goldens = {"B": tree(golden / "edge-store17")}
    duration = _timed(render["A"], env)
    goldens["A"] = tree(golden / "edge-store17")
    assert goldens["A"] != goldens["B"]

    rng = random.Random(17)
    outcomes: Counter[str] = Counter()
    state = "A"
    for delay in _delays(rng, duration, RENDER_KILLS):
        target = "B" if state == "A" else "A"
        assert _kill_after(render[target], env, delay) in (0, -signal.SIGKILL)
        outcome = _observe_and_recover(golden / "edge-store17", goldens[state], goldens[target])
        outcomes[outcome] += 1
        state = state if outcome == "old kept" else target
        assert sorted(p.name for p in golden.iterdir()) == ["edge-store17"]
    assert outcomes["old kept"] and outcomes["new complete"] + outcomes["rolled forward"], outcomes
    shutil.rmtree(tmp_path / "cache")
