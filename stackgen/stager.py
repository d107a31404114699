"""Putting one file in the staging folder: in-process, or in the helper process a streamed build
runs so that a new output is written on the other core while compile makes it (write.Stream).

The helper is this file run as a script (`python -I -S stager.py STAGING [--fsync-each]`):
stdlib only, so it starts in milliseconds, and found by path, so it runs however stackgen was
installed. It reads frames from stdin, each two unsigned 32-bit little-endian lengths (path,
content), then the path (UTF-8) and the content, and puts each file. At the end of its input it
answers one JSON object on stdout: `{"written": N}`, or, at the first error, that error's
`errno`, `strerror` and `filename` too, and it reads no further. The process that started it
checks every path before it sends it (write.check_tree's rules): this only writes below STAGING.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import struct
import sys
import threading
import typing as t

FRAME = struct.Struct("<II")


def put(staging: str, path: str, content: bytes, made: set[str], sync: bool) -> None:
    """Write `content` at `path` below `staging`, making its folders (`made`: those already made)."""
    folder = path.rpartition("/")[0]
    if folder and folder not in made:
        os.makedirs(os.path.join(staging, folder), exist_ok=True)
        end = folder.find("/")
        while end != -1:
            made.add(folder[:end])
            end = folder.find("/", end + 1)
        made.add(folder)
    write_file(os.path.join(staging, path), content, sync)


def write_file(path: str | os.PathLike[str], content: bytes, sync: bool) -> None:
    # O_NOFOLLOW: a link planted at a temporary or staged name fails the write (ELOOP) instead
    # of writing wherever it points. os.write, not a file object: a buffered writer per file
    # cost a quarter of staging a fleet.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o666)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(descriptor, view):]
        if sync:
            os.fsync(descriptor)
    except OSError as error:  # write(2) names no file: say which (a full disk, a size limit)
        raise OSError(error.errno, error.strerror, os.fspath(path)) from None
    finally:
        os.close(descriptor)


_EARLY_FLUSH_BYTES = 4 << 20


class _EarlyFlush:
    """Start the disk's write-back of what is staged so far, on a thread, every few MiB: the
    flush before the commit point (write.py) then finds little left to write. A hint only:
    that flush, not this one, is what makes the staged files durable, and reports errors."""

    def __init__(self, staging: str) -> None:
        self._staging = staging
        self._due = _EARLY_FLUSH_BYTES
        self._running: threading.Thread | None = None
        self._syncfs = _find_syncfs()

    def wrote(self, total: int) -> None:
        if self._syncfs is None or total < self._due or (self._running and self._running.is_alive()):
            return
        self._due = total + _EARLY_FLUSH_BYTES
        self._running = threading.Thread(target=self._flush, daemon=True)
        self._running.start()

    def _flush(self) -> None:
        assert self._syncfs is not None
        try:
            descriptor = os.open(self._staging, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
        try:
            self._syncfs(descriptor)
        finally:
            os.close(descriptor)


def _find_syncfs() -> t.Callable[[int], int] | None:
    try:
        import ctypes
        function: t.Callable[[int], int] = ctypes.CDLL(None, use_errno=True).syncfs
    except (ImportError, OSError, AttributeError):
        return None
    return function


def _below(path: str) -> str:
    """`path`, refused unless it stays below the staging folder: the sender checked it, and
    this is the second line."""
    if path.startswith("/") or "\x00" in path or any(part in ("", ".", "..") for part in path.split("/")):
        raise OSError(errno.EINVAL, "not a plain relative path", path)
    return path


def serve(staging: str, sync: bool, source: t.BinaryIO) -> dict[str, t.Any]:
    """Put every framed file read from `source`; what to answer."""
    made: set[str] = set()
    written = size = 0
    early = _EarlyFlush(staging)
    while header := source.read(FRAME.size):
        if len(header) < FRAME.size:
            raise SystemExit(1)  # cut off mid-frame: the sender is gone, and nobody reads an answer
        path_size, content_size = FRAME.unpack(header)
        path, content = source.read(path_size), source.read(content_size)
        if len(path) < path_size or len(content) < content_size:
            raise SystemExit(1)
        try:
            put(staging, _below(path.decode("utf-8", "surrogateescape")), content, made, sync)
        except OSError as error:
            return {"written": written, "errno": error.errno, "strerror": error.strerror, "filename": error.filename}
        written += 1
        size += content_size
        early.wrote(size)
    return {"written": written}


def main(argv: t.Sequence[str]) -> int:
    # A limit on file size fails the write (EFBIG, reported) instead of killing the helper.
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    answer = serve(argv[0], "--fsync-each" in argv[1:], sys.stdin.buffer)
    try:
        sys.stdout.write(json.dumps(answer))
        sys.stdout.flush()
    except BrokenPipeError:
        return 1  # the sender is gone
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
