"""write: put a compiled file tree under the output directory, all or nothing.

Protocol (each step survives a crash at any point):
  1. stage every new or changed file in `.stackgen-staging/`, at its own path there, then
     flush the file system they are on once (syncfs(2), which reports write-back errors such
     as ENOSPC; per-file fsync where it is missing);
  2. commit: atomically rename a journal into place naming the files written and pruned, the
     moves that bring them in, and the new lock file. A move is a file, or the first folder on
     a file's way that the output does not have yet: a new fleet comes in by a few renames of
     whole folders, not one per file;
  3. apply the journal (each rename is atomic), flush the file system once more, write the
     lock, drop journal and staging.
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

import collections
import ctypes
import errno
import fcntl
import hashlib
import itertools
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
import typing as t
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from stackgen import stager
from stackgen.errors import OutputError as OutputError
from stackgen.errors import OwnershipError as OwnershipError

LOCK_NAME = ".stackgen.lock"
JOURNAL_NAME = ".stackgen-journal.json"
STAGING_NAME = ".stackgen-staging"
RESERVED = frozenset({LOCK_NAME, JOURNAL_NAME, STAGING_NAME, JOURNAL_NAME + ".tmp", LOCK_NAME + ".tmp"})
LOCK_WAIT_SECONDS = 60.0


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
    return _lock_body({path: digest(content) for path, content in files.items()})


def _lock_body(digests: t.Mapping[str, str]) -> bytes:
    """`json.dumps({"files": ..., "generator": "stackgen"}, indent=2, sort_keys=True)`, laid out
    here: with an indent, json runs its pure-Python encoder, 0.03 s for a fleet's 23,000 files.
    Each string is still encoded by json itself."""
    if not digests:
        return b'{\n  "files": {},\n  "generator": "stackgen"\n}\n'
    encode = json.encoder.encode_basestring_ascii  # what json.dumps uses with ensure_ascii
    entries = ",\n".join(f"    {encode(path)}: {encode(digest)}" for path, digest in sorted(digests.items()))
    return f'{{\n  "files": {{\n{entries}\n  }},\n  "generator": "stackgen"\n}}\n'.encode()


def check(out: Path, files: t.Mapping[str, bytes], adopt: t.Collection[str] = ()) -> Changes:
    """What `write` would change; writes nothing."""
    check_tree(files)
    locked = _ownership(out, adopt)
    interrupted = (out / JOURNAL_NAME).exists()
    changes = _plan(out, files, locked)
    return Changes(changes.added, changes.changed, changes.removed, changes.foreign, interrupted)


def write(out: Path, files: t.Mapping[str, bytes], adopt: t.Collection[str] = ()) -> Changes:
    """Make `out` hold exactly `files` among what stackgen owns there, atomically (see above).

    adopt: sub-folders (by name) whose own locks say what stackgen owns where `out` has no lock
    (a tree once written folder by folder, such as golden/<cluster>/ before one lock covered
    golden/); their lock files are owned too, so this write prunes them.
    """
    check_tree(files)
    with Stream.open(out, adopt) as stream:
        return stream._finish_checked(files)


_SEND_BYTES = 256 << 10  # what a streamed write gathers before it tries the pipe
_PIPE_BYTES = 1 << 20
_IOV_MAX = 1024  # buffers one writev(2) takes (POSIX's least IOV_MAX is 16; Linux and macOS take 1,024)


class Stream:
    """One write into `out` whose files may be offered while they are still being compiled.

    `open` takes the output's lock, checks ownership and recovers, as `write` does, and the lock
    is held until `close`. Into a new output (no file in it yet) each file offered is staged at
    once by a helper process (stager.py), on the other core, while the caller goes on
    compiling: at 1,000 clusters that is 23,000 files, off the critical path. `finish` then
    stages what was not offered, waits for the helper and commits exactly as `write` does. An
    output that holds files, or an offer that `finish` does not write as it was offered, is
    staged by `finish` in this process, as `write` would: offers only ever save time.
    """

    def __init__(self, out: Path, adopt: t.Collection[str], lock: _exclusive, made: Path | None) -> None:
        self.out = out
        self._adopt = adopt
        self._lock = lock
        self._made = made  # the topmost folder `open` made for the output, removed if nothing is written
        self._locked: dict[str, str] | None = None
        self._fresh = False
        self._helper: subprocess.Popen[bytes] | None = None
        self._offered: dict[str, bytes] = {}
        self._unsent: collections.deque[bytes | memoryview] = collections.deque()  # frames the pipe did not take yet
        self._unsent_bytes = 0
        self._sent_at = 0  # what was left unsent after the last send
        self._usable = True  # False once an offer is refused or the helper stops taking files

    @classmethod
    def open(cls, out: Path, adopt: t.Collection[str] = ()) -> Stream:
        made = _first_missing_folder(out)
        try:
            out.mkdir(parents=True, exist_ok=True)
            lock = _exclusive(out)
            lock.__enter__()
        except OSError as error:
            raise OutputError(_describe(error, out)) from None
        stream = cls(out, adopt, lock, made)
        try:
            # Ownership first: nothing is replayed, dropped or walked in a folder stackgen does not own.
            _ownership(out, adopt)
            recover(out, adopt)
            stream._locked = owned(out, adopt)
            stream._fresh = not existing_files(out)
        except BaseException as error:
            stream.close()
            if isinstance(error, OSError):
                raise OutputError(_describe(error, out)) from None
            raise
        return stream

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def offer(self, path: str, content: bytes) -> None:
        """`path` will be written with `content`: staged now where the output is new, else ignored."""
        if not (self._fresh and self._usable):
            return
        try:
            _refuse_unplain(path)
        except OwnershipError:
            self._usable = False  # `finish` refuses the tree, with the reason
            return
        if path in self._offered or len(content) >= 1 << 32:
            self._usable = False
            return
        self._offered[path] = content
        self._frame(path, content)

    def _frame(self, path: str, content: bytes) -> None:
        encoded = path.encode("utf-8", "surrogateescape")
        head = stager.FRAME.pack(len(encoded), len(content)) + encoded
        self._unsent += (head, content)
        self._unsent_bytes += len(head) + len(content)
        if self._unsent_bytes - self._sent_at >= _SEND_BYTES:
            self._send(wait=False)

    def _send(self, wait: bool) -> None:
        """Hand the helper what the pipe takes now (`wait`: all of it). Never waiting while
        compile runs keeps this core compiling; what the pipe cannot take yet waits here."""
        if not self._usable:
            self._unsent.clear()
            return
        try:
            helper = self._helper or self._start_helper()
            assert helper.stdin is not None
            descriptor = helper.stdin.fileno()
            os.set_blocking(descriptor, wait)
            while self._unsent:
                try:
                    sent = os.writev(descriptor, list(itertools.islice(self._unsent, _IOV_MAX)))
                except BlockingIOError:
                    break
                self._unsent_bytes -= sent
                while sent:
                    head = self._unsent[0]
                    if len(head) > sent:
                        self._unsent[0] = memoryview(head)[sent:]
                        break
                    sent -= len(head)
                    self._unsent.popleft()
        except OSError:  # it did not start, or stopped taking files (BrokenPipeError)
            self._usable = False
            self._unsent.clear()
            self._unsent_bytes = 0
        self._sent_at = self._unsent_bytes

    def _start_helper(self) -> subprocess.Popen[bytes]:
        if not sys.executable:  # an embedded interpreter: no Python to run the helper with
            raise OSError(errno.ENOENT, "no Python executable for the staging helper")
        staging = self.out / STAGING_NAME
        os.mkdir(staging)  # `recover` dropped any left over: a new one, or this fails
        command = [sys.executable, "-I", "-S", os.path.abspath(stager.__file__), str(staging)]
        if _syncfs is None:
            command.append("--fsync-each")
        # The helper holds the output's lock too: should this process die, the next build waits
        # until the helper has seen its input end and stopped writing into the staging folder.
        self._helper = subprocess.Popen(command, bufsize=0, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, pass_fds=(self._lock.descriptor,))
        assert self._helper.stdin is not None
        if hasattr(fcntl, "F_SETPIPE_SZ"):  # Linux: fewer switches between the two processes
            try:
                fcntl.fcntl(self._helper.stdin.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
            except OSError:
                pass  # a smaller pipe only costs switches
        return self._helper

    def finish(self, files: t.Mapping[str, bytes]) -> Changes:
        """Write `files` as `write` does (every file, offered or not) and commit."""
        check_tree(files)
        return self._finish_checked(files)

    def _finish_checked(self, files: t.Mapping[str, bytes]) -> Changes:
        try:
            changes = _plan(self.out, files, self._locked)
            if changes.stale:
                _commit_and_apply(self.out, files, changes, self._locked, self._staging_for(files, changes))
            elif not (self.out / LOCK_NAME).exists():
                _atomic_write(self.out / LOCK_NAME, lock_text(files))
            self._made = None
            return changes
        except OSError as error:
            raise OutputError(_describe(error, self.out)) from None

    def _staging_for(self, files: t.Mapping[str, bytes], changes: Changes) -> t.Callable[[t.Sequence[str]], None]:
        """How the files written get staged: by the helper, with what was offered, where every
        offer is written as offered; else here."""
        def here(writes: t.Sequence[str]) -> None:
            _stage(self.out, files, writes)

        if self._helper is None and not self._offered:
            return here
        writes = set(changes.added + changes.changed)
        if not (self._usable and all(p in writes and files[p] == c for p, c in self._offered.items())):
            self._discard()
            return here

        def by_helper(writes: t.Sequence[str]) -> None:
            for path in writes:
                if path not in self._offered:
                    self._frame(path, files[path])
            self._send(wait=True)
            if self._helper is None:  # it never started: nothing is staged
                self._discard()
                here(writes)
                return
            self._wait_for_helper(len(writes))  # what it staged, `close` drops on a failure
        return by_helper

    def _wait_for_helper(self, expected: int) -> None:
        """Every file staged, or OSError: the helper's own error (a full disk), or that it stopped."""
        helper, self._helper = self._helper, None
        assert helper is not None and helper.stdin is not None and helper.stdout is not None
        try:
            helper.stdin.close()
        except OSError:
            pass  # it stopped early; its answer says why
        answer = helper.stdout.read()
        helper.stdout.close()
        helper.wait()
        try:
            said = json.loads(answer)
            written, code = int(said["written"]), said.get("errno")
        except (ValueError, KeyError, TypeError):
            said, written, code = {}, -1, None
        if code is not None:
            raise OSError(int(code), str(said.get("strerror")), said.get("filename"))
        if helper.returncode != 0 or written != expected:
            raise OSError(errno.EIO, f"the staging helper stopped (exit status {helper.returncode}) "
                          f"after {max(written, 0)} of {expected} files", str(self.out / STAGING_NAME))

    def _discard(self) -> None:
        """Stop the helper and drop what it staged: `finish` stages here instead."""
        helper, self._helper = self._helper, None
        self._offered.clear()
        self._unsent.clear()
        self._unsent_bytes = self._sent_at = 0
        self._usable = False
        if helper is not None:
            helper.kill()
            helper.wait()
            for pipe in (helper.stdin, helper.stdout):
                if pipe is not None:
                    try:
                        pipe.close()
                    except OSError:
                        pass
        staging = self.out / STAGING_NAME
        if staging.is_dir() and not staging.is_symlink() and not (self.out / JOURNAL_NAME).exists():
            shutil.rmtree(staging, ignore_errors=True)

    def close(self) -> None:
        """Release the output; a staging folder no journal names is dropped, and a folder `open`
        made is removed where nothing was written in it."""
        try:
            self._discard()
            if self._made is not None:
                _remove_empty(self.out, self._made)
        finally:
            self._lock.__exit__()


def _first_missing_folder(path: Path) -> Path | None:
    """The topmost folder of `path` (itself included) that does not exist yet."""
    missing = None
    for folder in (path, *path.parents):
        if os.path.lexists(folder):
            return missing
        missing = folder
    return missing


def _remove_empty(deepest: Path, top: Path) -> None:
    for folder in (deepest, *deepest.parents):
        try:
            os.rmdir(folder)  # only ever an empty folder
        except OSError:
            return
        if folder == top:
            return


def _commit_and_apply(out: Path, files: t.Mapping[str, bytes], changes: Changes, locked: t.Mapping[str, str] | None,
                      stage: t.Callable[[t.Sequence[str]], None]) -> None:
    folders = _Folders(out)
    for path in changes.added + changes.changed + changes.removed:
        folders.refuse_links(path)
    writes = changes.added + changes.changed
    moves = folders.moves(writes)
    for path in set(moves).intersection(writes):  # a file under a folder the output lacks has no directory in its place
        _refuse_directory_in_place(out, path)
    stage(writes)
    # Durable before the commit point, in one call rather than one fsync per file (an fsync each
    # cost 52 of 74 s writing a 1,000-cluster fleet). While the disk flushes, the journal is made.
    flushed = _flushing(out)
    try:
        journal = {"write": list(writes), "moves": moves, "remove": list(changes.removed),
                   "lock": lock_text(files).decode()}
    finally:
        flushed()
    if not (out / LOCK_NAME).exists():
        # A journal is only ever replayed beside a lock that owns what it touches (`recover`):
        # a first build, or one adopting nested locks, writes the lock of what it owns now.
        _atomic_write(out / LOCK_NAME, _lock_body(locked or {}))
    _commit(out, journal)
    try:
        _apply(out, journal)
    except OSError as error:
        raise OutputError(_past_commit(error, out)) from None


def _ownership(out: Path, adopt: t.Collection[str] = ()) -> dict[str, str] | None:
    """What stackgen owns in `out`, refusing a folder it does not own before reading any more
    of it: the first file found is enough (`-o /` is refused at once, never walked)."""
    locked = owned(out, adopt)
    if locked is None and (found := _first_file(out)) is not None:
        raise OwnershipError(
            f"{out}: output directory holds files ({found}) but no {LOCK_NAME}, so stackgen does not own it; "
            "choose an empty or new directory with -o"
        )
    return locked


def _first_file(out: Path) -> str | None:
    for directory, subdirs, names in os.walk(out):
        rel = Path(directory).relative_to(out)
        if rel == Path("."):
            subdirs[:] = [d for d in subdirs if d not in RESERVED and not d.startswith(".git")]
            names = [n for n in names if n not in RESERVED and not n.startswith(".git")]
        if names:
            return (rel / sorted(names)[0]).as_posix()
    return None


def recover(out: Path, adopt: t.Collection[str] = ()) -> None:
    """Finish a build a crash interrupted after its commit point; drop one interrupted before.

    A journal is input like any file in the folder: it is replayed only beside a lock that says
    stackgen owns the folder, and only if every path it touches is one the lock owns (or one it
    adds, staged, where nothing stands yet); otherwise nothing is touched.
    """
    journal_path = out / JOURNAL_NAME
    if journal_path.is_symlink() or (journal_path.exists() and not _regular_file(journal_path)):
        raise OwnershipError(f"{journal_path}: journal is not a regular file; stackgen will not replay it. "
                             "Remove it and run `stackgen build` again")
    locked = owned(out, adopt)
    if journal_path.exists():
        if locked is None:
            raise OwnershipError(f"{journal_path}: journal in a folder without {LOCK_NAME}; stackgen does not own this folder "
                                 "and will not replay it. Remove the journal if it is not yours")
        journal = _read_journal(journal_path)
        if _read_lock(out) == journal["new_lock"]:
            # Killed after the last step but one: every file and the new lock are in place, and
            # the lock no longer owns what the journal removed. Only the journal is left to drop.
            journal_path.unlink()
        else:
            _trust_journal(out, journal, locked)
            _apply(out, journal)
    elif locked is None and _first_file(out) is not None:
        return  # not stackgen's folder: its working names there are someone else's files
    for leftover in (out / STAGING_NAME, out / (JOURNAL_NAME + ".tmp"), out / (LOCK_NAME + ".tmp")):
        # A link here is removed, never followed: rmtree or a write through it would reach outside.
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
        elif leftover.is_symlink() or leftover.exists():
            leftover.unlink()


MAX_BOOKKEEPING_BYTES = 64 * 1024 * 1024
"""Largest lock or journal read: a lock of 100,000 files is ~10 MiB."""


def _read_journal(path: Path) -> dict[str, t.Any]:
    """The journal's body, checked for shape; a damaged one is refused, never half applied."""
    try:
        body = json.loads(_read_bounded(path))
        # A journal without `moves` was written by a stackgen that staged files flat, by digest.
        if not isinstance(body, dict) or set(body) - {"moves"} != {"write", "remove", "lock"}:
            raise ValueError("expected an object with `write`, `moves`, `remove` and `lock`")
        if not isinstance(body["lock"], str):
            raise ValueError("`lock` is not a string")
        for key in ("write", "moves", "remove"):
            if key not in body:
                continue
            if not isinstance(body[key], list) or not all(isinstance(p, str) for p in body[key]):
                raise ValueError(f"`{key}` is not a list of paths")
            for name in body[key]:
                _safe_relative(name)
        if "moves" in body:
            _refuse_uncovered(body["write"], body["moves"])
        body["new_lock"] = _lock_files(json.loads(body["lock"]))
        return body
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError) as error:
        raise OwnershipError(f"{path}: journal is damaged ({_reason(error)}); stackgen will not replay it. "
                             "Remove it, restore the output from git, and build again") from None


def _trust_journal(out: Path, journal: t.Mapping[str, t.Any], locked: t.Mapping[str, str]) -> None:
    """Refuse a journal that would touch what the lock beside it does not own."""
    path = out / JOURNAL_NAME
    writes, new_lock = set(journal["write"]), journal["new_lock"]
    for name in journal["remove"]:
        if name not in locked:
            raise OwnershipError(f"{path}: journal would remove {name!r}, which {LOCK_NAME} does not own; not replayed")
    for name in new_lock:
        if name not in locked and name not in writes:
            raise OwnershipError(f"{path}: journal's lock claims {name!r}, which stackgen neither owns nor writes; not replayed")
    for move in journal.get("moves", ()):
        _trust_staged_move(out, move, writes)
    for name in sorted(writes - set(locked)):
        target, staged = out / name, _staged_source(out, journal, name)
        if not (target.exists() or target.is_symlink()):
            continue
        # Already moved in by the interrupted run, or someone else's file in the way.
        moved = not staged.exists() and _regular_file(target) and _file_digest(target) == new_lock.get(name)
        if not moved:
            raise OwnershipError(f"{path}: journal would overwrite {name!r}, which stackgen does not own; not replayed")
    for name in sorted(writes):
        _refuse_directory_in_place(out, name)


def _refuse_uncovered(writes: t.Sequence[str], moves: t.Sequence[str]) -> None:
    """Every file written comes in by exactly one move: itself, or a folder on its way."""
    folders = set(moves)
    for name in writes:
        covering = [name[:end] for end in _folder_ends(name) if name[:end] in folders]
        if (name in folders) + len(covering) != 1:
            raise ValueError(f"`{name}` is not brought in by exactly one move")


def _folder_ends(name: str) -> t.Iterator[int]:
    end = name.find("/")
    while end != -1:
        yield end
        end = name.find("/", end + 1)


def _trust_staged_move(out: Path, move: str, writes: t.Collection[str]) -> None:
    """A staged folder moves in whole: refused if it holds anything the journal does not write."""
    source = out / STAGING_NAME / move
    if source.is_symlink() or not source.is_dir():
        return  # a file, or already moved in
    if os.path.lexists(out / move):
        raise OwnershipError(f"{out / JOURNAL_NAME}: staged folder {move!r} would move onto {out / move}, which exists; not replayed")
    for directory, subdirs, names in os.walk(source):
        prefix = Path(directory).relative_to(out / STAGING_NAME).as_posix()
        for name in subdirs + names:
            if os.path.islink(os.path.join(directory, name)) or (name in names and f"{prefix}/{name}" not in writes):
                raise OwnershipError(f"{out / JOURNAL_NAME}: staged folder {move!r} holds {prefix}/{name}, "
                                     "which the journal does not write; not replayed")


def _staged_source(out: Path, journal: t.Mapping[str, t.Any], name: str) -> Path:
    if "moves" in journal:
        return staged_path(out, name)
    return out / STAGING_NAME / hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()


def _file_digest(path: Path) -> str:
    with open(path, "rb") as handle:  # streamed: the file may be anything, of any size
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _reason(error: BaseException) -> str:
    return "nested too deeply" if isinstance(error, RecursionError) else str(error)[:200]


def _read_bounded(path: Path) -> str:
    with open(path, "rb") as handle:
        data = handle.read(MAX_BOOKKEEPING_BYTES + 1)
    if len(data) > MAX_BOOKKEEPING_BYTES:
        raise ValueError(f"larger than {MAX_BOOKKEEPING_BYTES // (1024 * 1024)} MiB")
    return data.decode("utf-8")


def owned(out: Path, adopt: t.Collection[str] = ()) -> dict[str, str] | None:
    """Path -> digest of every file the lock says stackgen wrote; None where there is no lock.

    Without a lock at the top, the locks of the sub-folders named in `adopt` count, where each
    such folder holds a golden index: never another tree's lock (`render -o .` would otherwise
    adopt overlays/ and prune it).
    """
    locked = _read_lock(out)
    if locked is not None or not adopt or not out.is_dir():
        return locked
    nested: dict[str, str] = {}
    for folder in sorted(out / name for name in set(adopt) if name not in RESERVED and "/" not in name and name not in (".", "..")):
        if folder.is_symlink() or not folder.is_dir() or not _regular_file(folder / "index.yaml"):
            continue
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
        return _lock_files(json.loads(_read_bounded(path)))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError) as error:
        raise OwnershipError(
            f"{path}: lock file is damaged ({_reason(error)}); stackgen will not guess which files it owns. "
            "Restore it from git (git checkout -- " + LOCK_NAME + ")"
        ) from None


def _lock_files(body: object) -> dict[str, str]:
    if not isinstance(body, dict):
        raise ValueError("not an object")
    files = body["files"]
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise ValueError("`files` is not a mapping of path to digest")
    for name in files:
        _refuse_outside(name)
    return files


def _safe_relative(name: str) -> PurePosixPath:
    _refuse_outside(name)
    return PurePosixPath(name)


def _refuse_outside(name: str) -> None:
    # Every lock entry and every file of a build passes here, several times a build: a plain
    # name (no empty, `.` or `..` part) is checked on its parts as split, which is what pathlib
    # would make of it; only other names pay for pathlib's normalising (issue 19).
    parts: t.Sequence[str] = name.split("/")
    if "" in parts or "." in parts:
        path = PurePosixPath(name)
        if path.is_absolute():
            raise ValueError(f"path `{name}` points outside the output directory")
        parts = path.parts
    if ".." in parts or not parts or parts[0] in RESERVED:
        raise ValueError(f"path `{name}` points outside the output directory")


def check_tree(files: t.Iterable[str]) -> None:
    """Refuse a file tree with any path that could land outside the output directory or collide.

    Names reaching paths are DNS-1123 labels by the schema; this is the second line: whatever the
    compiler produced, the writer only ever writes below `out`. Paths under `.git*` at the top are
    refused too (the ownership walk skips them, so they could never be checked), and so are two
    paths equal but for case (one would silently replace the other on macOS or Windows).
    """
    seen: dict[str, str] = {}
    for name in files:
        _refuse_unplain(name)
        folded = name.casefold()
        if folded in seen:
            raise OwnershipError(f"refusing to write {name!r} and {seen[folded]!r}: they differ only in case")
        seen[folded] = name


# What compile makes (DNS-1123 names, file names): no part empty or starting with a dot, so
# never `.`, `..`, `.git*` nor a reserved name. Such a path passes every check below at once.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")


def _refuse_unplain(name: str) -> None:
    if _PLAIN_PATH.fullmatch(name) is None:
        _refuse_unplain_slowly(name)


def _refuse_unplain_slowly(name: str) -> None:
    if "\x00" in name or "\\" in name:
        raise OwnershipError(f"refusing to write {name!r}: not a plain relative path")
    try:
        _refuse_outside(name)
    except ValueError as error:
        raise OwnershipError(f"refusing to write {name!r}: {error}") from None
    parts = name.split("/")
    if "" in parts or "." in parts or parts[0].startswith(".git"):
        raise OwnershipError(f"refusing to write {name!r}: not a plain relative path below the output directory")


def _regular_file(path: Path) -> bool:
    return not path.is_symlink() and path.is_file()


def existing_files(out: Path) -> set[str]:
    """Every file under `out` but stackgen's own bookkeeping and `.git*` at the top, found without following links."""
    found: set[str] = set()
    if not out.is_dir():
        return found
    root = str(out)
    for directory, subdirs, names in os.walk(root):
        if directory == root:
            subdirs[:] = [d for d in subdirs if d not in RESERVED and not d.startswith(".git")]
            found.update(n for n in names if n not in RESERVED and not n.startswith(".git"))
        else:
            prefix = directory[len(root) + 1:].replace(os.sep, "/") + "/"
            found.update(prefix + name for name in names)
    return found


def _plan(out: Path, files: t.Mapping[str, bytes], locked: t.Mapping[str, str] | None) -> Changes:
    existing = existing_files(out)  # `_ownership` refused an unowned folder with files before this walk
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
    # would block and a link to /dev/zero would never end. One lstat answers both, and a size
    # that differs answers without reading.
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(info.st_mode) or info.st_size != len(content):
        return False
    with open(path, "rb") as handle:
        return handle.read() == content


def staged_path(out: Path, path: str) -> Path:
    """Where `path` waits between staging and the commit: at its own path in the staging folder,
    so a folder the output lacks moves in whole, by one rename."""
    return out / STAGING_NAME / path


def _stage(out: Path, files: t.Mapping[str, bytes], paths: t.Iterable[str]) -> None:
    """Stage `paths` here, in this process (what a failure leaves, `Stream.close` drops)."""
    staging = os.path.join(out, STAGING_NAME)
    made: set[str] = set()
    os.makedirs(staging, exist_ok=True)
    per_file_sync = _syncfs is None
    for path in paths:
        stager.put(staging, path, files[path], made, per_file_sync)


def _commit(out: Path, journal: t.Mapping[str, t.Any]) -> None:
    _atomic_write(out / JOURNAL_NAME, json.dumps(journal, sort_keys=True).encode())


def _apply(out: Path, journal: t.Mapping[str, t.Any]) -> None:
    staging = out / STAGING_NAME
    folders = _Folders(out)
    moves: t.Sequence[str] = journal.get("moves", journal["write"])
    for move in moves:
        source = _staged_source(out, journal, move)
        if os.path.lexists(source):  # not moved in yet (a replay finds the rest gone)
            folders.refuse_links(move)
            folders.make(move)
            os.replace(source, out / _safe_relative(move))
    for path in journal["remove"]:
        target = out / _safe_relative(path)
        folders.refuse_links(path)
        if target.is_file() or target.is_symlink():
            target.unlink()
        _prune_empty_parents(out, target.parent)
    # The renames are durable before the journal goes: a failure here keeps it, to finish later.
    _sync_file_system(out)
    _atomic_write(out / LOCK_NAME, journal["lock"].encode())
    (out / JOURNAL_NAME).unlink()
    shutil.rmtree(staging, ignore_errors=True)
    _fsync_dir(out)


class _Folders:
    """The folders on the way to the files one write touches, each checked (and made) once:
    a fleet's files share a few thousand folders, and checking every one on the way to each of
    23,000 files cost 5 s in path joins and stats."""

    def __init__(self, out: Path):
        self.root = str(out)
        self.checked: set[str] = set()  # relative folders known to be real directories
        self.made: set[str] = set()
        self.missing: set[str] = set()  # relative folders known not to exist

    def refuse_links(self, path: str) -> None:
        """Refuse a link, or a file, where a folder on the way to `path` should be."""
        end = path.find("/")
        while end != -1:
            folder = path[:end]
            if folder in self.missing:
                return  # nothing deeper exists either
            if folder not in self.checked:
                current = os.path.join(self.root, folder)
                try:
                    mode = os.lstat(current).st_mode
                except FileNotFoundError:
                    self.missing.add(folder)  # a new fleet's 23,000 files would each ask again
                    return
                if stat.S_ISLNK(mode):
                    raise OwnershipError(f"{current}: is a symlink; stackgen never writes through links in its output")
                if not stat.S_ISDIR(mode):
                    raise OwnershipError(f"{current}: is a file where stackgen needs a folder; move it away first")
                self.checked.add(folder)
            end = path.find("/", end + 1)

    def moves(self, paths: t.Iterable[str]) -> list[str]:
        """What brings `paths` in: each file, or the first folder on its way that `out` lacks
        (everything under such a folder is new, so it moves in whole), each named once."""
        found: dict[str, None] = {}
        for path in paths:
            found.setdefault(self._first_missing(path) or path)
        return list(found)

    def _first_missing(self, path: str) -> str | None:
        for end in _folder_ends(path):
            folder = path[:end]
            if folder in self.missing:
                return folder
            if folder not in self.checked:
                if not os.path.lexists(os.path.join(self.root, folder)):
                    self.missing.add(folder)
                    return folder
                self.checked.add(folder)  # refuse_links has already refused a link or a file here
        return None

    def make(self, path: str) -> None:
        folder = path.rpartition("/")[0]
        if folder and folder not in self.made:
            os.makedirs(os.path.join(self.root, folder), exist_ok=True)
            self.made.add(folder)
            self.missing.difference_update([folder[:end] for end in _folder_ends(folder + "/")])


def _refuse_directory_in_place(out: Path, name: str) -> None:
    """A directory where stackgen's file goes would fail the rename past the commit point, and
    every later run with it: refused while nothing has been written."""
    target = os.path.join(out, name)
    if os.path.isdir(target) and not os.path.islink(target):
        raise OwnershipError(f"{target}: a directory stands where stackgen writes a file; move it away first")


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
    stager.write_file(path, content, sync=True)


def _find_syncfs() -> t.Callable[[int], int] | None:
    """Linux's syncfs(2): flushes one file system and, since Linux 5.8, returns the write-back
    errors of files written there (a full disk, an I/O error) instead of dropping them as
    sync(2) does: what a commit point needs to know."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function: t.Callable[[int], int] = libc.syncfs
    except (OSError, AttributeError):
        return None
    return function


_syncfs = _find_syncfs()


def _flushing(directory: Path) -> t.Callable[[], None]:
    """Start flushing the file system under `directory` on another thread (syncfs releases the
    GIL); the call returned waits for it, raising the OSError it met."""
    failures: list[OSError] = []

    def flush() -> None:
        try:
            _sync_file_system(directory)
        except OSError as error:
            failures.append(error)

    thread = threading.Thread(target=flush, name="stackgen-flush", daemon=True)
    thread.start()

    def flushed() -> None:
        thread.join()
        if failures:
            raise failures[0]
    return flushed


def _sync_file_system(directory: Path) -> None:
    """Everything written under `directory` is on disk, or OSError says why not."""
    if _syncfs is None:
        _fsync_dir(directory)  # each file was fsynced as it was written
        return
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _syncfs(descriptor) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), str(directory))
    finally:
        os.close(descriptor)


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


def _past_commit(error: OSError, out: Path) -> str:
    """Past the commit point the output is part old, part new: say so, and how it finishes."""
    where = error.filename or out
    return (f"{where}: {error.strerror or error}; stopped past the commit point, so {out} holds some new files and some old. "
            f"Its journal ({JOURNAL_NAME}) is kept: fix the cause and run the same command again to finish the change")


def _describe(error: OSError, out: Path) -> str:
    where = error.filename or out
    if error.errno == errno.ENOSPC:
        return f"{where}: no space left on device; the output directory is unchanged"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{where}: not writable ({error.strerror}); the output directory is unchanged"
    return f"{where}: {error.strerror or error}"
