"""What the last build on this machine wrote, so a build with nothing changed skips compile.

Compiling a fleet and reading every written file back to compare costs seconds (3.4 s at 1,000
clusters), while the answer is almost always "up to date". Like git's index, this remembers, per
stack file and output option, the inputs of the last build that left the tree exactly as compiled
(stack.yaml's bytes, stackgen's own code and data, the versions of the libraries that shape the
output) and the stat of every file it owns (size, mtime and ctime in ns, inode). A later build answers from
it only when every input is the same, the lock file is the one written then, no journal or
staging is left, and every owned file stats as recorded with an mtime older than the lock's (a
file edited in the same clock tick as the lock is "racy", as git calls it, and read in full).
Anything else, and any doubt, is the full build, which then records again.

What it never covers: vendored mode (its output is read from a mirror, which is not keyed here),
and machines without a recorded build: CI starts from a clean clone, so `build --check` there
always compiles and compares content.

Entries live in the user's cache (`$XDG_CACHE_HOME/stackgen/builds/`); losing them costs time only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import stat
import sys
import typing as t
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from stackgen import cachefile, schemafile
from stackgen import write as writer
from stackgen.diagnostics import Diagnostic

_VERSION = 1
_PACKAGE = Path(__file__).parent


@dataclass(frozen=True)
class Remembered:
    """An unchanged build, as the last one left it."""

    output: Path
    diagnostics: tuple[Diagnostic, ...]
    foreign: tuple[str, ...]


@dataclass(frozen=True)
class Inputs:
    slot: str  # which entry: the stack file and the output option
    digest: str  # everything the output is a function of


def inputs(stack_file: Path, source: bytes, display: str, output: Path | None) -> Inputs:
    """What keys the entry of a build of `source`, the bytes read from `stack_file`."""
    where = f"{os.path.abspath(stack_file)}\0{'' if output is None else os.path.abspath(output)}"
    said = f"{display}\0{'' if output is None else output}"  # what the outcome prints: the paths as given
    digest = hashlib.sha256()
    for part in (where.encode("utf-8", "surrogateescape"), said.encode("utf-8", "surrogateescape"), _code(), source):
        digest.update(hashlib.sha256(part).digest())
    return Inputs(hashlib.sha256(where.encode("utf-8", "surrogateescape")).hexdigest(), digest.hexdigest())


def _code() -> bytes:
    """stackgen's own files (code, schema, catalogs, templates) and what else shapes the output:
    PyYAML renders every scalar stackgen writes, jsonschema decides what is an error. jsonschema
    is found, not imported (nor asked its version through importlib.metadata): its own files
    say what it decides, and the answer from a record should cost neither import."""
    digest = hashlib.sha256()
    for path in sorted(p for p in _PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(b"schema\0" + schemafile.schema_path().read_bytes() + b"\0")  # in schemas/, outside the package, in a checkout
    spec = importlib.util.find_spec("jsonschema")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for path in sorted(Path(folder).glob("*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    versions = (sys.version, yaml.__version__, str(getattr(yaml, "__with_libyaml__", False)))
    digest.update("\0".join(versions).encode())
    return digest.digest()


def _entry_path(slot: str, env: t.Mapping[str, str] | None) -> Path:
    return cachefile.root(env) / "builds" / f"{slot}.json"


def _signature(info: os.stat_result) -> list[int]:
    # ctime too: `cp -p` or `rsync -t` write new content under the old mtime, but never the old ctime.
    return [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]


def lookup(key: Inputs, env: t.Mapping[str, str] | None = None) -> Remembered | None:
    """The last build's outcome where the tree is provably as it left it, else None."""
    entry = cachefile.read_json(_entry_path(key.slot, env))
    if not isinstance(entry, dict) or entry.get("version") != _VERSION or entry.get("digest") != key.digest:
        return None
    try:
        return _still_there(entry)
    except (OSError, KeyError, TypeError, ValueError):
        return None


def _still_there(entry: dict[str, t.Any]) -> Remembered | None:
    out = Path(entry["absolute"])
    if os.path.abspath(entry["out"]) != entry["absolute"]:
        return None  # recorded from another working directory: the path as printed would differ
    lock = out / writer.LOCK_NAME
    info = os.lstat(lock)
    if not stat.S_ISREG(info.st_mode) or info.st_mtime_ns != entry["lock_mtime_ns"]:
        return None
    if hashlib.sha256(lock.read_bytes()).hexdigest() != entry["lock"]:
        return None
    if any(os.path.lexists(out / name) for name in writer.RESERVED if name != writer.LOCK_NAME):
        return None  # a journal or staging left behind: the full build recovers it
    recorded: dict[str, list[int]] = entry["files"]
    existing = writer.existing_files(out)
    if not existing.issuperset(recorded):
        return None
    root = str(out) + os.sep  # strings, not Paths: a fleet is tens of thousands of files
    for path, signature in recorded.items():
        found = os.lstat(root + path)
        if not stat.S_ISREG(found.st_mode) or _signature(found) != signature or found.st_mtime_ns >= info.st_mtime_ns:
            return None
    diagnostics = tuple(Diagnostic(**fields) for fields in entry["diagnostics"])
    return Remembered(Path(entry["out"]), diagnostics, tuple(sorted(existing.difference(recorded))))


def record(key: Inputs, out: Path, files: t.Iterable[str], diagnostics: t.Sequence[Diagnostic],
           env: t.Mapping[str, str] | None = None) -> None:
    """Remember a build that left `out` holding exactly `files` as compiled."""
    root = str(out) + os.sep  # strings, not Paths: a fleet is tens of thousands of files
    try:
        lock = out / writer.LOCK_NAME
        info = os.lstat(lock)
        entry = {
            "version": _VERSION, "digest": key.digest, "out": str(out), "absolute": os.path.abspath(out),
            "lock": hashlib.sha256(lock.read_bytes()).hexdigest(), "lock_mtime_ns": info.st_mtime_ns,
            "files": {path: _signature(os.lstat(root + path)) for path in files},
            "diagnostics": [asdict(d) for d in diagnostics],
        }
    except OSError:
        return
    cachefile.write_entry(_entry_path(key.slot, env), json.dumps(entry, sort_keys=True))
