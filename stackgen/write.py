"""write: put a compiled file tree under the output directory, all or nothing.

Protocol (each step survives a crash at any point):
  1. stage every new or changed file under `.stackgen-staging/` (fsynced);
  2. commit: atomically rename a journal into place naming the files to move in and to prune,
     and the new lock file;
  3. apply the journal (renames are atomic per file), write the lock, drop journal and staging.
A crash before 2 leaves the old tree (the next run drops the staging folder); a crash after 2 is
rolled forward by the next run before it does anything else. The lock file (`.stackgen.lock`)
records every file stackgen wrote, with its digest: only those are ever overwritten or pruned.

Links: the output directory itself is resolved like any path the user names (a symlink given as
`-o` is followed once); nothing inside it is ever followed for writing or reading. A link where
a file stackgen owns should be is replaced by the regular file; a linked directory on the way to
a file, or a link in place of the lock, journal or staging files, stops the build before it
writes anything.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

LOCK_NAME = ".stackgen.lock"
JOURNAL_NAME = ".stackgen-journal.json"
STAGING_NAME = ".stackgen-staging"
RESERVED = frozenset({LOCK_NAME, JOURNAL_NAME, STAGING_NAME, JOURNAL_NAME + ".tmp", LOCK_NAME + ".tmp"})
LOCK_WAIT_SECONDS = 60.0


class OwnershipError(Exception):
    """The output directory holds files stackgen did not write where it would write (exit 1)."""


class OutputError(Exception):
    """The output directory cannot be written: permissions, full disk, a busy lock (exit 2)."""


@dataclass(frozen=True)
class Changes:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    foreign: tuple[str, ...]  # files in the output that stackgen does not own: kept, never touched
    interrupted: bool = False

    @property
    def stale(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.interrupted)


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def lock_text(files: t.Mapping[str, bytes]) -> bytes:
    body = {"generator": "stackgen", "files": {path: digest(content) for path, content in sorted(files.items())}}
    return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()


def check(out: Path, files: t.Mapping[str, bytes], adopt_nested: bool = False) -> Changes:
    """What `write` would change; writes nothing."""
    check_tree(files)
    interrupted = (out / JOURNAL_NAME).exists()
    changes = _plan(out, files, owned(out, adopt_nested))
    return Changes(changes.added, changes.changed, changes.removed, changes.foreign, interrupted)


def write(out: Path, files: t.Mapping[str, bytes], adopt_nested: bool = False) -> Changes:
    """Make `out` hold exactly `files` among what stackgen owns there, atomically (see above).

    adopt_nested: where `out` has no lock, its sub-folders' own locks say what stackgen owns (a
    tree once written folder by folder, such as golden/ before one lock covered it); their lock
    files are owned too, so this write prunes them.
    """
    check_tree(files)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with _exclusive(out):
            recover(out)
            changes = _plan(out, files, owned(out, adopt_nested))
            if changes.stale:
                for path in changes.added + changes.changed + changes.removed:
                    _refuse_symlinked_parents(out, out / path)
                _stage(out, files, changes.added + changes.changed)
                journal = {"write": list(changes.added + changes.changed), "remove": list(changes.removed), "lock": lock_text(files).decode()}
                _commit(out, journal)
                _apply(out, journal)
            elif not (out / LOCK_NAME).exists():
                _atomic_write(out / LOCK_NAME, lock_text(files))
            return changes
    except OSError as error:
        raise OutputError(_describe(error, out)) from None


def recover(out: Path) -> None:
    """Finish a build a crash interrupted after its commit point; drop one interrupted before."""
    journal_path = out / JOURNAL_NAME
    if journal_path.is_symlink() or (journal_path.exists() and not _regular_file(journal_path)):
        raise OwnershipError(f"{journal_path}: journal is not a regular file; stackgen will not replay it. "
                             "Remove it and run `stackgen build` again")
    if journal_path.exists():
        _apply(out, json.loads(journal_path.read_text()))
    for leftover in (out / STAGING_NAME, out / (JOURNAL_NAME + ".tmp"), out / (LOCK_NAME + ".tmp")):
        # A link here is removed, never followed: rmtree or a write through it would reach outside.
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
        elif leftover.is_symlink() or leftover.exists():
            leftover.unlink()


def owned(out: Path, adopt_nested: bool = False) -> dict[str, str] | None:
    """Path -> digest of every file the lock says stackgen wrote; None where there is no lock."""
    locked = _read_lock(out)
    if locked is not None or not adopt_nested or not out.is_dir():
        return locked
    nested: dict[str, str] = {}
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and not p.is_symlink() and p.name not in RESERVED):
        inner = _read_lock(folder)
        if inner is not None:
            nested.update({f"{folder.name}/{path}": sha for path, sha in inner.items()})
            nested[f"{folder.name}/{LOCK_NAME}"] = digest((folder / LOCK_NAME).read_bytes())
    return nested or None


def _read_lock(out: Path) -> dict[str, str] | None:
    path = out / LOCK_NAME
    if not path.exists() and not path.is_symlink():
        return None
    if not _regular_file(path):
        # Reading through a link could read anything (a device never ends); a lock is a plain file.
        raise OwnershipError(f"{path}: lock file is not a regular file; stackgen will not guess which files it owns. "
                             "Restore it from git (git checkout -- " + LOCK_NAME + ")")
    try:
        body = json.loads(path.read_text("utf-8"))
        files = body["files"]
        if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
            raise ValueError("`files` is not a mapping of path to digest")
        for name in files:
            _safe_relative(name)
        return files
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise OwnershipError(
            f"{path}: lock file is damaged ({error}); stackgen will not guess which files it owns. "
            "Restore it from git (git checkout -- " + LOCK_NAME + ")"
        ) from None


def _safe_relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or path.parts[0] in RESERVED:
        raise ValueError(f"path `{name}` points outside the output directory")
    return path


def check_tree(files: t.Iterable[str]) -> None:
    """Refuse a file tree with any path that could land outside the output directory or collide.

    Names reaching paths are DNS-1123 labels by the schema; this is the second line: whatever the
    compiler produced, the writer only ever writes below `out`. Paths under `.git*` at the top are
    refused too (the ownership walk skips them, so they could never be checked), and so are two
    paths equal but for case (one would silently replace the other on macOS or Windows).
    """
    seen: dict[str, str] = {}
    for name in files:
        if "\x00" in name or "\\" in name:
            raise OwnershipError(f"refusing to write {name!r}: not a plain relative path")
        try:
            path = _safe_relative(name)
        except ValueError as error:
            raise OwnershipError(f"refusing to write {name!r}: {error}") from None
        if path.as_posix() != name or path.parts[0].startswith(".git"):
            raise OwnershipError(f"refusing to write {name!r}: not a plain relative path below the output directory")
        folded = name.casefold()
        if folded in seen:
            raise OwnershipError(f"refusing to write {name!r} and {seen[folded]!r}: they differ only in case")
        seen[folded] = name


def _regular_file(path: Path) -> bool:
    return not path.is_symlink() and path.is_file()


def _existing_files(out: Path) -> set[str]:
    found: set[str] = set()
    if not out.is_dir():
        return found
    for directory, subdirs, names in os.walk(out):
        rel = Path(directory).relative_to(out)
        if rel == Path("."):
            subdirs[:] = [d for d in subdirs if d not in RESERVED and not d.startswith(".git")]
            names = [n for n in names if n not in RESERVED and not n.startswith(".git")]
        found.update((rel / name).as_posix() for name in names)
    return found


def _plan(out: Path, files: t.Mapping[str, bytes], locked: dict[str, str] | None) -> Changes:
    existing = _existing_files(out)
    if locked is None and existing:
        sample = ", ".join(sorted(existing)[:3])
        raise OwnershipError(
            f"{out}: output directory holds files ({sample}) but no {LOCK_NAME}, so stackgen does not own it; "
            "choose an empty or new directory with -o"
        )
    owned = set(locked or {})
    in_the_way = sorted(p for p in files if p in existing and p not in owned)
    if in_the_way:
        raise OwnershipError(f"{out / in_the_way[0]}: stackgen would overwrite a file it did not write; move it away first")
    added = tuple(sorted(p for p in files if p not in existing))
    changed = tuple(sorted(p for p in files if p in existing and not _same_file(out / p, files[p])))
    removed = tuple(sorted(p for p in owned if p not in files and p in existing))
    foreign = tuple(sorted(existing - owned - set(files)))
    return Changes(added, changed, removed, foreign)


def _same_file(path: Path, content: bytes) -> bool:
    # A link or a special file where an owned file should be is replaced, never read: a FIFO
    # would block and a link to /dev/zero would never end.
    return _regular_file(path) and path.read_bytes() == content


def _stage(out: Path, files: t.Mapping[str, bytes], paths: t.Iterable[str]) -> None:
    staging = out / STAGING_NAME
    try:
        for path in paths:
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_synced(target, files[path])
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _commit(out: Path, journal: t.Mapping[str, t.Any]) -> None:
    _atomic_write(out / JOURNAL_NAME, json.dumps(journal, sort_keys=True).encode())


def _apply(out: Path, journal: t.Mapping[str, t.Any]) -> None:
    staging = out / STAGING_NAME
    for path in journal["write"]:
        source, target = staging / path, out / _safe_relative(path)
        if source.exists():
            _refuse_symlinked_parents(out, target)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
    for path in journal["remove"]:
        target = out / _safe_relative(path)
        _refuse_symlinked_parents(out, target)
        if target.is_file() or target.is_symlink():
            target.unlink()
        _prune_empty_parents(out, target.parent)
    _atomic_write(out / LOCK_NAME, journal["lock"].encode())
    (out / JOURNAL_NAME).unlink()
    shutil.rmtree(staging, ignore_errors=True)
    _fsync_dir(out)


def _refuse_symlinked_parents(out: Path, target: Path) -> None:
    current = out
    for part in target.relative_to(out).parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise OwnershipError(f"{current}: is a symlink; stackgen never writes through links in its output")


def _prune_empty_parents(out: Path, directory: Path) -> None:
    while directory != out and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent


def _atomic_write(path: Path, content: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    _write_synced(temporary, content)
    os.replace(temporary, path)
    _fsync_dir(path.parent)


def _write_synced(path: Path, content: bytes) -> None:
    # O_NOFOLLOW: a link planted at a temporary or staged name fails the write (ELOOP) instead
    # of writing wherever it points.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o666)
    with open(descriptor, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class _exclusive:
    """An exclusive flock on the output directory: concurrent builds wait their turn."""

    def __init__(self, out: Path):
        self.out = out
        self.descriptor = -1

    def __enter__(self) -> None:
        self.descriptor = os.open(self.out, os.O_RDONLY)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(self.descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(self.descriptor)
                    raise OutputError(f"{self.out}: another stackgen run has held it for {LOCK_WAIT_SECONDS:.0f} s") from None
                time.sleep(0.05)

    def __exit__(self, *_: object) -> None:
        fcntl.flock(self.descriptor, fcntl.LOCK_UN)
        os.close(self.descriptor)


def _describe(error: OSError, out: Path) -> str:
    where = error.filename or out
    if error.errno == errno.ENOSPC:
        return f"{where}: no space left on device; the output directory is unchanged"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{where}: not writable ({error.strerror}); the output directory is unchanged"
    return f"{where}: {error.strerror or error}"
