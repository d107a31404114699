"""Entries of the user's cache (rendered units, converted CRD schemas): written whole or not at all.

Write then rename, so concurrent runs never see a half-written entry; not mkstemp, whose 0600
would ignore the umask of a cache shared through a group. A cache that cannot be written only
costs time, so errors are swallowed here and nowhere else.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


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
