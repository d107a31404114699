"""Entries of the user's cache (rendered units, converted CRD schemas): written whole or not at all.

Write then rename, so concurrent runs never see a half-written entry; not mkstemp, whose 0600
would ignore the umask of a cache shared through a group. A cache that cannot be written only
costs time, so errors are swallowed here and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import typing as t
from pathlib import Path


def root(env: t.Mapping[str, str] | None = None) -> Path:
    """The user's cache for stackgen: `$XDG_CACHE_HOME/stackgen`."""
    environment = os.environ if env is None else env
    return Path(environment.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")) / "stackgen"


def code_digest(*modules: str) -> str:
    """The bytes of the named source files: a result cached by content is also keyed by the
    code that computed it, so an edited check never answers from an older one."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update((Path(__file__).parent / module).read_bytes() + b"\0")
    return digest.hexdigest()


def read_json(path: Path) -> t.Any | None:
    """A cache entry's JSON, or None where it is missing or unreadable (a cache only costs time)."""
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None


def write_entry(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.parent / f".tmp-{os.getpid()}-{secrets.token_hex(8)}"
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    except OSError:
        pass
