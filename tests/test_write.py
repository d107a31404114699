"""write: atomic, journaled, and it only ever touches files its lock says it wrote."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

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
    (out / writer.STAGING_NAME / "units/x").mkdir(parents=True)
    (out / writer.STAGING_NAME / "units/x/kustomization.yaml").write_bytes(b"half\n")
    writer.recover(out)
    assert {k: v for k, v in _snapshot(out).items() if k != writer.LOCK_NAME} == TREE


def test_interrupted_after_commit_is_rolled_forward(tmp_path: Path) -> None:
    out = tmp_path / "o"
    writer.write(out, TREE)
    new = {"units/x/kustomization.yaml": b"new\n"}
    staged = out / writer.STAGING_NAME / "units/x/kustomization.yaml"
    staged.parent.mkdir(parents=True)
    staged.write_bytes(b"new\n")
    journal = {"write": ["units/x/kustomization.yaml"], "remove": ["clusters/a/kustomization.yaml"], "lock": writer.lock_text(new).decode()}
    (out / writer.JOURNAL_NAME).write_text(json.dumps(journal))
    assert writer.check(out, new).interrupted
    writer.recover(out)
    assert {k: v for k, v in _snapshot(out).items() if k != writer.LOCK_NAME} == new
    assert not writer.check(out, new).stale


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
    real = writer._write_synced
    calls = []

    def filling_up(path: Path, content: bytes) -> None:
        calls.append(path)
        if len(calls) > fail_after:
            raise OSError(28, "No space left on device", str(path))
        real(path, content)

    monkeypatch.setattr(writer, "_write_synced", filling_up)
    with pytest.raises(writer.OutputError, match="no space left"):
        writer.write(out, {"units/x/kustomization.yaml": b"2\n", "units/y/kustomization.yaml": b"3\n"})
    assert _snapshot(out) == before
