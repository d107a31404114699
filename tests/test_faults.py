"""Crash safety by fault injection: `stackgen build` and `stackgen render` killed with SIGKILL at
seeded random moments while they replace one tree by another (see `_plan` for where they land).

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
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
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
    run,
    tree,
)
from tests.upstream import UPSTREAM, requires_upstream

BUILD_KILLS = 40
RENDER_KILLS = 15


def _timed(args: list[str], env: dict[str, str]) -> float:
    start = time.monotonic()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return time.monotonic() - start


# A kill is a delay counted from the start, or from the moment a path first appears in the output:
# timing alone would spend most kills on interpreter start-up, and a loaded machine stretches
# runs unpredictably; the staging folder and the journal mark the write and commit phases.
Kill = tuple[str | None, float]
POLL = 0.002


def _watched_run(args: list[str], env: dict[str, str], out: Path) -> tuple[float, float]:
    """Run to the end; how long it took, and how long from the staging folder's appearance to the end."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: nobody reads while we poll
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        staged = None
        while process.poll() is None:
            if staged is None and (out / writer.STAGING_NAME).exists():
                staged = time.monotonic()
            time.sleep(POLL)
        end = time.monotonic()
        errors.seek(0)
        assert process.returncode == 0, errors.read().decode()
    return end - start, (end - staged) if staged is not None else 0.05


def _plan(rng: random.Random, duration: float, writing: float, count: int) -> list[Kill]:
    """A third of the kills anywhere in the run, a third while staging, a third just after the commit."""
    third = count // 3
    kills: list[Kill] = [(None, rng.uniform(0, duration)) for _ in range(third)]
    kills += [(writer.STAGING_NAME, rng.uniform(0, writing)) for _ in range(third)]
    kills += [(writer.JOURNAL_NAME, rng.uniform(0, 0.01)) for _ in range(count - 2 * third)]
    rng.shuffle(kills)
    return kills


def _kill(args: list[str], env: dict[str, str], out: Path, kill: Kill) -> int:
    watch, delay = kill
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if watch is not None:
        while process.poll() is None and not (out / watch).exists():
            time.sleep(POLL)
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


def test_build_killed_40_times_at_random_leaves_the_old_or_the_new_tree(tmp_path: Path) -> None:
    stacks = {"A": BUNDLED, "B": CASES / "positive" / "gcp-serving" / "stack.yaml"}
    trees = {name: dict(compiled(path)) for name, path in stacks.items()}
    assert set(trees["A"]) - set(trees["B"]) and set(trees["B"]) - set(trees["A"]), "each switch must add and prune files"
    out = tmp_path / "overlays"
    env = environment()
    build = {name: argv("build", "-f", str(path), "-o", str(out)) for name, path in stacks.items()}
    timings = [_watched_run(build["B"], env, out), _watched_run(build["A"], env, out)]
    assert tree(out) == trees["A"]

    rng = random.Random(20261125)
    outcomes: Counter[str] = Counter()
    state = "A"
    for kill in _plan(rng, max(t[0] for t in timings), max(t[1] for t in timings), BUILD_KILLS):
        target = "B" if state == "A" else "A"
        returncode = _kill(build[target], env, out, kill)
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


@dataclass(frozen=True)
class RenderPair:
    """Two stacks one field apart, their overlays, a warm render cache and both golden trees."""

    env: dict[str, str]
    overlays: dict[str, Path]
    stacks: dict[str, Path]
    goldens: dict[str, dict[str, bytes]]
    golden_a: Path  # a golden folder as `render` of A left it

    def start_from_a(self, golden: Path) -> Path:
        shutil.copytree(self.golden_a, golden, symlinks=True)
        return golden

    def argv(self, name: str, golden: Path) -> list[str]:
        return argv("render", "-f", str(self.stacks[name]), "--overlays", str(self.overlays[name]), "--upstream", str(UPSTREAM),
                    "--cluster", CLUSTER, "--quiet", "-o", str(golden))


CLUSTER = "edge-store17"


@pytest.fixture(scope="module")
def render_pair(tmp_path_factory: pytest.TempPathFactory) -> RenderPair:
    if not (UPSTREAM / "remotes.yaml").is_file():
        pytest.skip(f"needs the pinned upstream mirror at {UPSTREAM}; absent here")
    root = tmp_path_factory.mktemp("render-pair")
    stacks = {"A": BUNDLED, "B": edited_stack(root)}
    overlays = {name: root / f"overlays-{name}" for name in stacks}
    for name, path in stacks.items():
        writer.write(overlays[name], compiled(path))
    golden = root / "golden"
    pair = RenderPair(environment(XDG_CACHE_HOME=str(root / "cache")), overlays, stacks, {}, golden)
    # Warm the cache for both: each later run is then short and mostly verify and writing.
    _timed(pair.argv("A", golden), pair.env)
    _timed(pair.argv("B", golden), pair.env)
    goldens = {"B": tree(golden)}
    _timed(pair.argv("A", golden), pair.env)
    goldens["A"] = tree(golden)
    assert goldens["A"] != goldens["B"]
    return RenderPair(pair.env, overlays, stacks, goldens, golden)


@requires_upstream
def test_render_killed_15_times_at_random_leaves_old_or_new_goldens(tmp_path: Path, render_pair: RenderPair) -> None:
    golden = render_pair.start_from_a(tmp_path / "golden")
    duration, writing = _watched_run(render_pair.argv("B", golden), render_pair.env, golden)
    rng = random.Random(17)
    outcomes: Counter[str] = Counter()
    state = "B"
    for kill in _plan(rng, duration, writing, RENDER_KILLS):
        target = "B" if state == "A" else "A"
        assert _kill(render_pair.argv(target, golden), render_pair.env, golden, kill) in (0, -signal.SIGKILL)
        outcome = _observe_and_recover(golden, render_pair.goldens[state], render_pair.goldens[target])
        outcomes[outcome] += 1
        state = state if outcome == "old kept" else target
        assert sorted(p.name for p in golden.iterdir()) == sorted([writer.LOCK_NAME, CLUSTER])
    assert outcomes["old kept"] and outcomes["new complete"] + outcomes["rolled forward"], outcomes


# --- full disk and read-only file systems, for real ---------------------------------------
#
# A private mount namespace (unshare -m) holds a tiny tmpfs or a read-only bind mount; both vanish
# with the namespace, so nothing outside the test's folder is affected.


def _can_mount() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", 'd=$(mktemp -d); mount -t tmpfs -o size=64k tmpfs "$d"; s=$?; umount "$d"; rmdir "$d"; exit $s'],
                           capture_output=True, check=False)
    return probe.returncode == 0


requires_mount = pytest.mark.skipif(not _can_mount(), reason="needs `unshare -m` and mount rights (root with CAP_SYS_ADMIN)")

# $1: the folder to fill or make read-only; the rest: the stackgen command. A full disk is a tmpfs
# over the folder, so its contents are copied out to $1.after before the namespace goes away.
FULL_DISK = """
set -e
target="$1"; shift
cp -a "$target" "$target.before"
mount -t tmpfs -o size=2m tmpfs "$target"
cp -a "$target.before/." "$target/"
dd if=/dev/zero of="$target/.filler" bs=4k 2>/dev/null || true
set +e
"$@"; status=$?
rm -f "$target/.filler"
mkdir "$target.after" && cp -a "$target/." "$target.after/"
exit $status
"""
READ_ONLY = """
set -e
mount --bind "$1" "$1"
mount -o remount,bind,ro "$1"
shift
set +e
"$@"
"""


def _in_namespace(script: str, target: Path, command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(target), *command], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def _full_disk_after(target: Path) -> Path:
    return target.with_name(target.name + ".after")


@requires_mount
def test_build_on_a_full_disk_exits_2_and_keeps_the_old_overlays(tmp_path: Path) -> None:
    out = tmp_path / "overlays"
    old = dict(compiled(BUNDLED))
    writer.write(out, old)
    done = _in_namespace(FULL_DISK, out, argv("build", "-f", str(CASES / "positive" / "gcp-serving" / "stack.yaml"), "-o", str(out)),
                         environment())
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no space left on device" in done.stderr and "Traceback" not in done.stderr
    after = _full_disk_after(out)
    assert tree(after) == old and bookkeeping(after) == {writer.LOCK_NAME} and lock_matches(after)


@requires_mount
def test_build_on_a_read_only_file_system_exits_2_and_keeps_the_old_overlays(tmp_path: Path) -> None:
    out = tmp_path / "overlays"
    old = dict(compiled(BUNDLED))
    writer.write(out, old)
    done = _in_namespace(READ_ONLY, out, argv("build", "-f", str(CASES / "positive" / "gcp-serving" / "stack.yaml"), "-o", str(out)),
                         environment())
    assert done.returncode == 2, done.stdout + done.stderr
    assert "not writable" in done.stderr and "Traceback" not in done.stderr
    assert tree(out) == old and bookkeeping(out) == {writer.LOCK_NAME} and lock_matches(out)


@requires_upstream
@requires_mount
def test_render_on_a_full_disk_exits_2_and_keeps_the_old_goldens(tmp_path: Path, render_pair: RenderPair) -> None:
    golden = render_pair.start_from_a(tmp_path / "golden")
    done = _in_namespace(FULL_DISK, golden, render_pair.argv("B", golden), render_pair.env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no space left on device" in done.stderr and "Traceback" not in done.stderr
    assert "output directory is unchanged" in done.stderr
    after = _full_disk_after(golden)
    assert tree(after) == render_pair.goldens["A"] and bookkeeping(after) == {writer.LOCK_NAME} and lock_matches(after)


@requires_upstream
@requires_mount
def test_render_on_a_read_only_file_system_exits_2_and_keeps_the_old_goldens(tmp_path: Path, render_pair: RenderPair) -> None:
    golden = render_pair.start_from_a(tmp_path / "golden")
    done = _in_namespace(READ_ONLY, golden, render_pair.argv("B", golden), render_pair.env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "not writable" in done.stderr and "output directory is unchanged" in done.stderr and "Traceback" not in done.stderr
    assert tree(golden) == render_pair.goldens["A"]
    assert bookkeeping(golden) == {writer.LOCK_NAME} and lock_matches(golden)


# --- nothing outside the output is touched ----------------------------------------------------


def _stat_snapshot(root: Path, skip: set[Path]) -> dict[str, tuple[int, int, int]]:
    """Name, mtime, size and mode of everything under root (root included), except the skipped trees."""
    found = {".": (root.stat().st_mtime_ns, root.stat().st_size, root.stat().st_mode)}
    for path in sorted(root.rglob("*")):
        if any(path == s or s in path.parents for s in skip):
            continue
        info = path.lstat()
        found[path.relative_to(root).as_posix()] = (info.st_mtime_ns, info.st_size, info.st_mode)
    return found


@requires_upstream
def test_build_and_render_touch_nothing_outside_their_outputs(tmp_path: Path, render_pair: RenderPair) -> None:
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    shutil.copyfile(BUNDLED, repo / "stack.yaml")
    (repo / "docs" / "notes.md").write_text("mine\n")
    other = edited_stack(tmp_path)
    cache, temporary = tmp_path / "cache", tmp_path / "tmp"
    temporary.mkdir()
    shutil.copytree(render_pair.env["XDG_CACHE_HOME"], cache)  # warm: the test is about where runs write
    env = environment(XDG_CACHE_HOME=str(cache), TMPDIR=str(temporary))
    overlays, golden = repo / "overlays", repo / "golden"

    def build_and_render(stack: Path) -> None:
        for args in (("build", "-f", str(stack), "-o", str(overlays)),
                     ("render", "-f", str(stack), "--overlays", str(overlays), "--upstream", str(UPSTREAM), "--cluster", "edge-store17",
                      "--quiet", "-o", str(golden))):
            done = run(*args, cwd=repo, env=env)
            assert done.returncode == 0, done.stderr

    build_and_render(repo / "stack.yaml")  # creates the outputs: their parent's mtime may change once
    skip = {overlays, golden, cache, temporary}
    before = _stat_snapshot(tmp_path, skip)
    time.sleep(0.01)  # a write now would show in the nanosecond mtimes
    build_and_render(other)
    build_and_render(repo / "stack.yaml")
    assert _stat_snapshot(tmp_path, skip) == before
    assert list(temporary.iterdir()) == [], "temporary folders were left behind"
    assert sorted(p.name for p in cache.iterdir()) == ["stackgen"], "the cache wrote outside its own folder"
    assert not [p for p in cache.rglob(".tmp-*")], "the cache left temporary entries"
