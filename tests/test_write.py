"""write: atomic, journaled, and it only ever touches files its lock says it wrote."""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackgen import write as writer

TREE = {"clusters/a/kustomization.yaml": b"a\n", "units/x/kustomization.yaml": b"x\n"}


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_first_write_creates_tree_and_lock(tmp_path: Path) -> None:
    out = tmp_path / "overlays"
    changes = writer.write(out, TREE)
    assert changes.added == tuple(sorted(TREE))
    lock = json.loads((out / writer.LOCK_NAME).read_text())
    assert set(lock["files"]) == set(TREE)
    assert {k: v for k, v in _snapshot(out).items() if k != writer.LOCK_NAME} == TREE
    assert not (out / writer.STAGING_NAME).exists() and not (out / writer.JOURNAL_NAME).exists()


def test_rebuild_prunes_only_its_own_files_and_keeps_the_users(tmp_path: Path) -> None:
    out = tmp_path / "overlays"
    writer.write(out, TREE)
    (out / "clusters/a/NOTES.md").write_text("mine")
    changes = writer.write(out, {"units/x/kustomization.yaml": b"x2\n"})
    assert changes.removed == ("clusters/a/kustomization.yaml",)
    assert changes.changed == ("units/x/kustomization.yaml",)
    assert changes.foreign == ("clusters/a/NOTES.md",)
    assert (out / "clusters/a/NOTES.md").read_text() == "mine"
    assert not (out / "clusters/a/kustomization.yaml").exists()


def test_pruning_removes_directories_left_empty(tmp_path: Path) -> None:
    out = tmp_path / "o"
    writer.write(out, TREE)
    writer.write(out, {"units/x/kustomization.yaml": b"x\n"})
    assert not (out / "clusters").exists()


def test_check_reports_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "o"
    writer.write(out, TREE)
    before = _snapshot(out)
    changes = writer.check(out, {**TREE, "units/y/kustomization.yaml": b"y\n", "units/x/kustomization.yaml": b"z\n"})
    assert changes.stale and changes.added == ("units/y/kustomization.yaml",)
    assert changes.changed == ("units/x/kustomization.yaml",)
    assert _snapshot(out) == before
    assert not writer.check(out, TREE).stale


def test_directory_with_files_but_no_lock_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "precious.yaml").write_text("keep me")
    with pytest.raises(writer.OwnershipError, match="no .stackgen.lock"):
        writer.write(out, TREE)
    assert _snapshot(out) == {"precious.yaml": b"keep me"}


def test_a_users_file_where_stackgen_would_write_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "o"
    writer.write(out, {"units/x/kustomization.yaml": b"x\n"})
    (out / "clusters/a").mkdir(parents=True)
    (out / "clusters/a/kustomization.yaml").write_text("hand made")
    with pytest.raises(writer.OwnershipError, match="did not write"):
        writer.write(out, TREE)
    assert (out / "clusters/a/kustomization.yaml").read_text() == "hand made"


@pytest.mark.parametrize("lock", ["{not json", '{"files": ["a"]}', '{"files": {"../../etc/passwd": "x"}}'])
def test_damaged_lock_is_an_error_not_a_mass_delete(tmp_path: Path, lock: str) -> None:
    out = tmp_path / "o"
    writer.write(out, TREE)
    (out / writer.LOCK_NAME).write_text(lock)
    with pytest.raises(writer.OwnershipError, match="damaged"):
        writer.write(out, {})
    assert (out / "units/x/kustomization.yaml").exists()


def test_interrupted_before_commit_leaves_the_old_tree(tmp_path: Path) -> None:
    out = tmp_path / "o"
    writer.write(out, TREE)
    staged = writer.staged_path(out, "units/x/kustomization.yaml")
    staged.parent.mkdir(parents=True)
    staged.write_bytes(b"half\n")
    writer.recover(out)
    assert {k: v for k, v in _snapshot(out).items() if k != writer.LOCK_NAME} == TREE


def test_interrupted_after_commit_is_rolled_forward(tmp_path: Path) -> None:
    out = tmp_path / "o"
    writer.write(out, TREE)
    new = {"units/x/kustomization.yaml": b"new\n", "units/y/z/kustomization.yaml": b"y\n"}
    for path, content in new.items():
        staged = writer.staged_path(out, path)
        staged.parent.mkdir(parents=True, exist_ok=True)
        staged.write_bytes(content)
    # units/y is a folder the tree lacks: it moves in whole.
    journal = {"write": sorted(new), "moves": ["units/x/kustomization.yaml", "units/y"],
               "remove": ["clusters/a/kustomization.yaml"], "lock": writer.lock_text(new).decode()}
    (out / writer.JOURNAL_NAME).write_text(json.dumps(journal))
    assert writer.check(out, new).interrupted
    writer.recover(out)
    assert {k: v for k, v in _snapshot(out).items() if k != writer.LOCK_NAME} == new
    assert not writer.check(out, new).stale


def test_a_journal_of_flat_staging_is_still_rolled_forward(tmp_path: Path) -> None:
    """A build killed past its commit by a stackgen that staged files flat, by the digest of
    their path, is finished by this one."""
    out = tmp_path / "o"
    writer.write(out, TREE)
    new = {"units/x/kustomization.yaml": b"new\n", "units/y/kustomization.yaml": b"y\n"}
    (out / writer.STAGING_NAME).mkdir()
    for path, content in new.items():
        (out / writer.STAGING_NAME / hashlib.sha256(path.encode()).hexdigest()).write_bytes(content)
    journal = {"write": sorted(new), "remove": ["clusters/a/kustomization.yaml"], "lock": writer.lock_text(new).decode()}
    (out / writer.JOURNAL_NAME).write_text(json.dumps(journal))
    writer.recover(out)
    assert {k: v for k, v in _snapshot(out).items() if k != writer.LOCK_NAME} == new


@pytest.mark.parametrize("moves", [[], ["units"], ["units", "units/y/kustomization.yaml"]])
def test_a_journal_whose_moves_do_not_cover_its_writes_is_refused(tmp_path: Path, moves: list[str]) -> None:
    out = tmp_path / "o"
    writer.write(out, TREE)
    new = {**TREE, "units/y/kustomization.yaml": b"y\n"}
    journal = {"write": ["units/y/kustomization.yaml"], "moves": moves, "remove": [], "lock": writer.lock_text(new).decode()}
    (out / writer.JOURNAL_NAME).write_text(json.dumps(journal))
    staged = writer.staged_path(out, "units/y/kustomization.yaml")
    staged.parent.mkdir(parents=True)
    staged.write_bytes(b"y\n")
    with pytest.raises(writer.OwnershipError, match="not replay"):
        writer.recover(out)
    assert not (out / "units/y").exists()


def test_a_staged_folder_holding_more_than_the_journal_writes_is_not_moved(tmp_path: Path) -> None:
    out = tmp_path / "o"
    writer.write(out, TREE)
    new = {**TREE, "units/y/kustomization.yaml": b"y\n"}
    for path in ("units/y/kustomization.yaml", "units/y/planted.yaml"):
        staged = writer.staged_path(out, path)
        staged.parent.mkdir(parents=True, exist_ok=True)
        staged.write_bytes(b"y\n")
    journal = {"write": ["units/y/kustomization.yaml"], "moves": ["units/y"], "remove": [], "lock": writer.lock_text(new).decode()}
    (out / writer.JOURNAL_NAME).write_text(json.dumps(journal))
    with pytest.raises(writer.OwnershipError, match="planted"):
        writer.recover(out)
    assert not (out / "units/y").exists()


def test_a_new_folder_comes_in_by_one_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fleet's new folders move in whole: renames grow with the folders the tree lacks, not
    with the files in them."""
    out = tmp_path / "o"
    writer.write(out, TREE)
    renamed: list[str] = []
    real_replace = os.replace

    def counting(source: t.Any, target: t.Any) -> None:
        renamed.append(str(target))
        real_replace(source, target)

    monkeypatch.setattr(writer.os, "replace", counting)
    more = {**TREE, **{f"units/new/{i}/kustomization.yaml": b"n\n" for i in range(50)},
            "units/x/kustomization.yaml": b"changed\n"}
    writer.write(out, more)
    moved = sorted(str(Path(p).relative_to(out)) for p in renamed if Path(p).parent.name != "o" or not Path(p).name.startswith("."))
    assert moved == ["units/new", "units/x/kustomization.yaml"], moved
    assert {k: v for k, v in _snapshot(out).items() if k != writer.LOCK_NAME} == more


def test_never_writes_through_a_symlinked_directory(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "o"
    writer.write(out, {"units/x/kustomization.yaml": b"x\n"})
    os.symlink(outside, out / "clusters")
    with pytest.raises(writer.OwnershipError):
        writer.write(out, TREE)
    assert list(outside.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_output_is_an_environment_error(tmp_path: Path) -> None:
    out = tmp_path / "o"
    writer.write(out, TREE)
    out.chmod(0o555)
    try:
        with pytest.raises(writer.OutputError, match="not writable"):
            writer.write(out, {**TREE, "units/y/kustomization.yaml": b"y\n"})
    finally:
        out.chmod(0o755)
    assert {k: v for k, v in _snapshot(out).items() if k != writer.LOCK_NAME} == TREE


@pytest.mark.parametrize("fail_after", [0, 1])
def test_full_disk_while_staging_leaves_the_old_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_after: int) -> None:
    out = tmp_path / "o"
    writer.write(out, TREE)
    before = _snapshot(out)
    real = writer.stager.write_file
    calls = []

    def filling_up(path: str | os.PathLike[str], content: bytes, sync: bool) -> None:
        calls.append(path)
        if len(calls) > fail_after:
            raise OSError(28, "No space left on device", str(path))
        real(path, content, sync)

    monkeypatch.setattr(writer.stager, "write_file", filling_up)
    with pytest.raises(writer.OutputError, match="no space left"):
        writer.write(out, {"units/x/kustomization.yaml": b"2\n", "units/y/kustomization.yaml": b"3\n"})
    assert _snapshot(out) == before


# --- defence in depth: names are DNS-1123 labels by the schema; the writer still refuses any
# path that could leave the output directory, whatever the compiler produced.


@pytest.mark.parametrize(
    "name",
    ["../x", "/etc/passwd", "a/../../x", "units/../../x", "", ".", "a//b", "a/./b", "a/", "a\\..\\x", "a\x00b",
     writer.LOCK_NAME, f"{writer.STAGING_NAME}/x", writer.JOURNAL_NAME, ".git/config", ".gitmodules"],
)
def test_a_path_escaping_the_output_is_refused_before_anything_is_written(tmp_path: Path, name: str) -> None:
    out = tmp_path / "o"
    with pytest.raises(writer.OwnershipError, match="refusing to write"):
        writer.write(out, {"units/x/kustomization.yaml": b"x\n", name: b"evil\n"})
    with pytest.raises(writer.OwnershipError, match="refusing to write"):
        writer.check(out, {name: b"evil\n"})
    assert sorted(p.name for p in tmp_path.rglob("*")) == []


def test_paths_equal_but_for_case_are_refused(tmp_path: Path) -> None:
    # On macOS and Windows one would silently replace the other in a checkout.
    with pytest.raises(writer.OwnershipError, match="differ only in case"):
        writer.write(tmp_path / "o", {"units/a/x.yaml": b"1\n", "units/A/x.yaml": b"2\n"})
    assert not (tmp_path / "o").exists()


def test_a_symlinked_directory_is_refused_before_the_commit_point(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "o"
    writer.write(out, {"units/x/kustomization.yaml": b"x\n"})
    before = _snapshot(out)
    os.symlink(outside, out / "clusters")
    with pytest.raises(writer.OwnershipError, match="symlink"):
        writer.write(out, TREE)
    # nothing staged or journaled: the next build does not trip over a half-done one
    assert not (out / writer.JOURNAL_NAME).exists() and not (out / writer.STAGING_NAME).exists()
    assert {k: v for k, v in _snapshot(out).items() if k != "clusters"} == before
    assert list(outside.iterdir()) == []


def test_a_symlinked_file_stackgen_owns_is_replaced_never_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious\n")
    out = tmp_path / "o"
    writer.write(out, TREE)
    target = out / "units/x/kustomization.yaml"
    target.unlink()
    os.symlink(victim, target)
    assert writer.check(out, TREE).changed == ("units/x/kustomization.yaml",)
    writer.write(out, TREE)
    assert not target.is_symlink() and target.read_bytes() == b"x\n"
    assert victim.read_bytes() == b"precious\n"


def test_a_symlink_with_the_same_content_is_still_not_up_to_date(tmp_path: Path) -> None:
    twin = tmp_path / "twin.yaml"
    twin.write_bytes(TREE["units/x/kustomization.yaml"])
    out = tmp_path / "o"
    writer.write(out, TREE)
    (out / "units/x/kustomization.yaml").unlink()
    os.symlink(twin, out / "units/x/kustomization.yaml")
    assert writer.check(out, TREE).stale


def test_a_foreign_symlink_is_left_alone_and_a_symlink_in_the_way_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious\n")
    out = tmp_path / "o"
    writer.write(out, {"units/x/kustomization.yaml": b"x\n"})
    os.symlink(victim, out / "mine.yaml")
    assert writer.write(out, {"units/x/kustomization.yaml": b"x2\n"}).foreign == ("mine.yaml",)
    assert (out / "mine.yaml").is_symlink()
    (out / "clusters/a").mkdir(parents=True)
    os.symlink(victim, out / "clusters/a/kustomization.yaml")
    with pytest.raises(writer.OwnershipError, match="did not write"):
        writer.write(out, TREE)
    assert victim.read_bytes() == b"precious\n"


@pytest.mark.parametrize("planted", [writer.STAGING_NAME, writer.JOURNAL_NAME + ".tmp", writer.LOCK_NAME + ".tmp"])
def test_links_planted_at_working_names_are_removed_not_followed(tmp_path: Path, planted: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_bytes(b"keep\n")
    out = tmp_path / "o"
    writer.write(out, TREE)
    # a directory link for staging; dangling file links for the temporaries (open() would create their target)
    os.symlink(outside if planted == writer.STAGING_NAME else outside / "created", out / planted)
    writer.write(out, {**TREE, "units/y/kustomization.yaml": b"y\n"})
    assert sorted(p.name for p in outside.iterdir()) == ["keep"]
    assert not (out / planted).is_symlink()
    assert (out / "units/y/kustomization.yaml").read_bytes() == b"y\n"


def test_writes_refuse_a_link_at_the_final_name(tmp_path: Path) -> None:
    outside = tmp_path / "created"
    os.symlink(outside, tmp_path / "link")
    with pytest.raises(OSError):
        writer._write_synced(tmp_path / "link", b"x")
    assert not outside.exists()


@pytest.fixture
def no_hang() -> t.Iterator[None]:
    """A FIFO read blocks forever: fail the test after 20 s instead of hanging the suite."""

    def expired(*_: object) -> None:
        raise TimeoutError("blocked on a FIFO")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
def test_a_lock_that_is_not_a_regular_file_is_refused_unread(tmp_path: Path, kind: str, no_hang: None) -> None:
    out = tmp_path / "o"
    writer.write(out, TREE)
    lock = out / writer.LOCK_NAME
    real = tmp_path / "lock-copy"
    real.write_bytes(lock.read_bytes())
    lock.unlink()
    if kind == "symlink":
        os.symlink(real, lock)
    else:
        os.mkfifo(lock)  # reading it would block forever
    with pytest.raises(writer.OwnershipError, match="not a regular file"):
        writer.write(out, TREE)
    with pytest.raises(writer.OwnershipError, match="not a regular file"):
        writer.check(out, TREE)


def test_a_journal_that_is_a_link_is_refused_unread(tmp_path: Path) -> None:
    out = tmp_path / "o"
    writer.write(out, TREE)
    elsewhere = tmp_path / "journal.json"
    elsewhere.write_text(json.dumps({"write": [], "remove": ["units/x/kustomization.yaml"], "lock": writer.lock_text({}).decode()}))
    os.symlink(elsewhere, out / writer.JOURNAL_NAME)
    with pytest.raises(writer.OwnershipError, match="journal is not a regular file"):
        writer.write(out, TREE)
    assert (out / "units/x/kustomization.yaml").exists()


def test_a_fifo_where_an_owned_file_was_is_replaced_without_reading_it(tmp_path: Path, no_hang: None) -> None:
    out = tmp_path / "o"
    writer.write(out, TREE)
    (out / "units/x/kustomization.yaml").unlink()
    os.mkfifo(out / "units/x/kustomization.yaml")
    assert writer.check(out, TREE).changed == ("units/x/kustomization.yaml",)
    writer.write(out, TREE)
    assert (out / "units/x/kustomization.yaml").read_bytes() == b"x\n"


def test_a_symlinked_output_directory_is_followed_once(tmp_path: Path) -> None:
    # The rule: the directory the user names is resolved like any path they type; only links
    # found inside it are never followed.
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "link")
    writer.write(tmp_path / "link", TREE)
    assert {k: v for k, v in _snapshot(real).items() if k != writer.LOCK_NAME} == TREE
    assert not writer.check(tmp_path / "link", TREE).stale


def test_a_write_back_error_before_the_commit_point_keeps_the_old_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Staged files are flushed by one syncfs(2), whose return is the only place a delayed
    # write-back failure shows: it must stop the build while the old tree is whole.
    if writer._syncfs is None:
        pytest.skip("no syncfs(2) here: staged files are fsynced one by one")
    out = tmp_path / "o"
    writer.write(out, TREE)
    before = _snapshot(out)

    def failing(descriptor: int) -> int:
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(writer, "_syncfs", failing)
    with pytest.raises(writer.OutputError, match="Input/output error"):
        writer.write(out, {"units/x/kustomization.yaml": b"2\n", "units/y/kustomization.yaml": b"3\n"})
    assert _snapshot(out) == before
    assert not (out / writer.JOURNAL_NAME).exists()


def test_killed_between_the_new_lock_and_dropping_the_journal_recovers(tmp_path: Path) -> None:
    # The last steps of a build: the new lock is in place, then the journal goes. A kill between
    # them leaves a journal whose removals the new lock no longer owns; it is finished, not refused.
    out = tmp_path / "o"
    writer.write(out, TREE)
    new = {"units/x/kustomization.yaml": b"x\n"}
    journal = {"write": [], "remove": ["clusters/a/kustomization.yaml"], "lock": writer.lock_text(new).decode()}
    (out / "clusters/a/kustomization.yaml").unlink()
    (out / writer.LOCK_NAME).write_bytes(writer.lock_text(new))
    (out / writer.JOURNAL_NAME).write_text(json.dumps(journal))
    writer.recover(out)
    assert {k: v for k, v in _snapshot(out).items() if k != writer.LOCK_NAME} == new
    assert not (out / writer.JOURNAL_NAME).exists() and not writer.check(out, new).stale


def _outside_by_pathlib(name: str) -> bool:
    """The writer's rule as pathlib states it: what `_refuse_outside` must decide on every name."""
    from pathlib import PurePosixPath

    path = PurePosixPath(name)
    return path.is_absolute() or ".." in path.parts or not path.parts or path.parts[0] in writer.RESERVED


_PARTS = ["a", "b.yaml", ".", "..", "", ".git", writer.LOCK_NAME, writer.STAGING_NAME, "..a", "a..", "/"]


@given(st.lists(st.sampled_from(_PARTS), max_size=6).map("/".join))
@settings(max_examples=400, deadline=None)
def test_the_fast_path_check_refuses_exactly_what_pathlib_would(name: str) -> None:
    try:
        writer._refuse_outside(name)
        refused = False
    except ValueError:
        refused = True
    assert refused == _outside_by_pathlib(name)


# --- a streamed write: files offered while compile runs, staged by a helper process ----------------


def _fleet_like(clusters: int) -> dict[str, bytes]:
    """Enough files, in enough folders, that the stream hands its helper several batches."""
    files = {}
    for index in range(clusters):
        for name in ("kustomization.yaml", "own/kustomization.yaml", "own/namespace.yaml"):
            files[f"clusters/c{index}/{name}"] = f"# cluster {index} {name}\n".encode() * 400
        files[f"gitops/argocd/c{index}/root.yaml"] = f"name: c{index}\n".encode()
    return files


def _forbid_staging_here(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_: object) -> None:
        raise AssertionError("staged in this process, not by the helper")

    monkeypatch.setattr(writer.stager, "put", refused)


def test_a_new_output_is_staged_by_the_helper_as_files_are_offered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = _fleet_like(120)
    assert sum(map(len, files.values())) > 4 * writer._SEND_BYTES  # sent while still offering
    _forbid_staging_here(monkeypatch)
    out = tmp_path / "new" / "overlays"
    with writer.Stream.open(out) as stream:
        for path, content in files.items():
            stream.offer(path, content)
        changes = stream.finish(files)
    assert changes.added == tuple(sorted(files))
    assert {k: v for k, v in _snapshot(out).items() if k != writer.LOCK_NAME} == files
    assert (out / writer.LOCK_NAME).read_bytes() == writer.lock_text(files)
    assert sorted(os.listdir(out)) == [writer.LOCK_NAME, "clusters", "gitops"]


def test_a_streamed_write_equals_a_plain_write(tmp_path: Path) -> None:
    files = _fleet_like(40)
    writer.write(tmp_path / "plain", files)
    with writer.Stream.open(tmp_path / "streamed") as stream:
        for path, content in files.items():
            stream.offer(path, content)
        stream.finish(files)
    assert _snapshot(tmp_path / "streamed") == _snapshot(tmp_path / "plain")


def test_what_finish_does_not_write_as_offered_is_staged_again_here(tmp_path: Path) -> None:
    files = _fleet_like(40)
    out = tmp_path / "o"
    with writer.Stream.open(out) as stream:
        for path, content in files.items():
            stream.offer(path, content)
        stream.offer("units/dropped/kustomization.yaml", b"offered, then not compiled\n")
        changed = {**files, "clusters/c3/kustomization.yaml": b"compiled again\n"}
        stream.finish(changed)
    assert {k: v for k, v in _snapshot(out).items() if k != writer.LOCK_NAME} == changed


def test_offers_to_an_output_that_holds_files_stage_nothing_early(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "o"
    writer.write(out, TREE)
    started = []
    monkeypatch.setattr(writer.Stream, "_start_helper", lambda self: started.append(self))
    new = {**TREE, "units/y/kustomization.yaml": b"y\n"}
    with writer.Stream.open(out) as stream:
        for path, content in new.items():
            stream.offer(path, content)
        assert stream.finish(new).added == ("units/y/kustomization.yaml",)
    assert not started
    assert {k: v for k, v in _snapshot(out).items() if k != writer.LOCK_NAME} == new


def test_a_helper_that_cannot_start_leaves_the_staging_to_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_processes(*_: object, **__: object) -> None:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(writer.subprocess, "Popen", no_processes)
    files = _fleet_like(40)
    out = tmp_path / "o"
    with writer.Stream.open(out) as stream:
        for path, content in files.items():
            stream.offer(path, content)
        stream.finish(files)
    assert {k: v for k, v in _snapshot(out).items() if k != writer.LOCK_NAME} == files


def test_an_unplain_offer_is_refused_by_finish_and_nothing_is_written(tmp_path: Path) -> None:
    out = tmp_path / "o"
    bad = {**_fleet_like(40), "../outside.yaml": b"x\n"}
    with pytest.raises(writer.OwnershipError, match="outside the output directory"):
        with writer.Stream.open(out) as stream:
            for path, content in bad.items():
                stream.offer(path, content)
            stream.finish(bad)
    assert not out.exists() and not (tmp_path / "outside.yaml").exists()


def test_a_stream_closed_without_finishing_leaves_no_folder_it_made(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "overlays"
    with writer.Stream.open(out) as stream:
        for path, content in _fleet_like(40).items():
            stream.offer(path, content)
    assert list(tmp_path.iterdir()) == []


_RUN_STREAM = """
import os, resource, signal, sys
from pathlib import Path
from stackgen import write as writer
out, how = Path(sys.argv[1]), sys.argv[2]
files = {f"units/u{i}/kustomization.yaml": b"x" * 3000 for i in range(400)}
if how == "limit":
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))  # the lock and journal of TREE fit; the files do not
with writer.Stream.open(out) as stream:
    for path, content in files.items():
        stream.offer(path, content)
    if how == "kill":
        stream._send(wait=True)
        os.kill(os.getpid(), signal.SIGKILL)
    try:
        stream.finish(files)
    except writer.OutputError as error:
        print(error.message)
"""


def test_a_write_the_helper_cannot_do_is_reported_and_the_output_stays_new(tmp_path: Path) -> None:
    # A real failure in the helper, not a mocked one: a file-size limit, which it inherits.
    out = tmp_path / "o"
    done = subprocess.run([sys.executable, "-c", _RUN_STREAM, str(out), "limit"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert f"{out / writer.STAGING_NAME}/units/u0/kustomization.yaml: File too large" in done.stdout
    assert not out.exists()


def test_killed_while_streaming_the_next_write_recovers_the_old_tree(tmp_path: Path) -> None:
    out = tmp_path / "o"
    done = subprocess.run([sys.executable, "-c", _RUN_STREAM, str(out), "kill"], capture_output=True, text=True, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert (out / writer.STAGING_NAME).is_dir()  # killed before its commit point
    # The helper holds the output's lock until its input ends: this waits for it, then drops the staging.
    writer.write(out, TREE)
    assert {k: v for k, v in _snapshot(out).items() if k != writer.LOCK_NAME} == TREE
    assert sorted(os.listdir(out)) == [writer.LOCK_NAME, "clusters", "units"]


@given(st.text(alphabet=st.sampled_from("aZ09._-/\\\x00 é"), max_size=12) | st.sampled_from([".git/x", ".stackgen.lock", "a/.git", "a/../b"]))
def test_a_path_taken_at_once_as_plain_passes_every_check(name: str) -> None:
    # The fast test for compile's names never lets through what the full checks refuse.
    def verdict(check: t.Callable[[str], None]) -> str:
        try:
            check(name)
        except writer.OwnershipError as error:
            return error.message
        return "written"

    assert verdict(writer._refuse_unplain) == verdict(writer._refuse_unplain_slowly)
    if writer._PLAIN_PATH.fullmatch(name):
        assert verdict(writer._refuse_unplain_slowly) == "written"


@given(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=6))
def test_the_lock_is_laid_out_as_json_with_an_indent(digests: dict[str, str]) -> None:
    body = {"generator": "stackgen", "files": digests}
    assert writer._lock_body(digests) == (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()


@pytest.mark.parametrize("path", ["../outside", "/etc/x", "a/../../outside", "a//b", "./a"])
def test_the_helper_refuses_a_path_that_leaves_its_staging_folder(tmp_path: Path, path: str) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    encoded = path.encode()
    frames = writer.stager.FRAME.pack(len(encoded), 2) + encoded + b"x\n"
    done = subprocess.run([sys.executable, "-I", "-S", writer.stager.__file__, str(staging)], input=frames,
                          capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"written": 0, "errno": errno.EINVAL, "strerror": "not a plain relative path", "filename": path}
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["staging"]
