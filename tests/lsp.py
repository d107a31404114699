"""A small Language Server Protocol client: Content-Length framed JSON-RPC over a server's stdio.

A reader thread parses every frame into a queue; requests the server makes of the client
(workspace/configuration, capability registration, progress) are answered at once, so the
server never waits on us. Every wait has a deadline: a test fails, it never hangs.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
import typing as t

Message = dict[str, t.Any]
Settings = t.Callable[[str], t.Any]


class LspError(Exception):
    """The server answered with an error, went away, or did not answer in time."""


class Client:
    def __init__(self, argv: list[str], settings: Settings, cwd: str | None = None):
        self._settings = settings
        self._process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
        self._inbox: queue.Queue[Message | None] = queue.Queue()
        self._notifications: list[Message] = []
        self._next_id = 0
        self._write_lock = threading.Lock()
        self._stderr: list[bytes] = []
        self._threads = [threading.Thread(target=self._read, daemon=True), threading.Thread(target=self._drain_stderr, daemon=True)]
        for thread in self._threads:
            thread.start()

    # --- the wire ---------------------------------------------------------------------

    def _send(self, message: Message) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self._process.stdin is not None
        with self._write_lock:
            self._process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self._process.stdin.flush()

    def _read(self) -> None:
        stream = self._process.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    self._inbox.put(None)  # the server closed its output
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if length is None:
                continue
            self._inbox.put(json.loads(stream.read(length)))

    def _drain_stderr(self) -> None:
        assert self._process.stderr is not None
        for line in self._process.stderr:
            self._stderr.append(line)

    def _next(self, deadline: float) -> Message:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LspError(f"no answer in time; server stderr:\n{self.stderr()}")
        try:
            message = self._inbox.get(timeout=remaining)
        except queue.Empty:
            raise LspError(f"no answer in time; server stderr:\n{self.stderr()}") from None
        if message is None:
            raise LspError(f"the server exited ({self._process.poll()}); stderr:\n{self.stderr()}")
        if "method" in message and "id" in message:
            self._answer(message)
        elif "method" in message:
            self._notifications.append(message)
        return message

    def _answer(self, request: Message) -> None:
        if request["method"] == "workspace/configuration":
            result: t.Any = [self._settings(item.get("section", "")) for item in request["params"]["items"]]
        else:  # client/registerCapability, window/workDoneProgress/create, ...: acknowledged
            result = None
        self._send({"id": request["id"], "result": result})

    def stderr(self) -> str:
        return b"".join(self._stderr).decode(errors="replace")

    # --- the protocol -----------------------------------------------------------------

    def request(self, method: str, params: t.Any, timeout: float) -> t.Any:
        self._next_id += 1
        ident = self._next_id
        self._send({"id": ident, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while True:
            message = self._next(deadline)
            if message.get("id") == ident and "method" not in message:
                if "error" in message:
                    raise LspError(f"{method}: {message['error']}")
                return message.get("result")

    def notify(self, method: str, params: t.Any) -> None:
        self._send({"method": method, "params": params})

    def wait_for(self, method: str, accept: t.Callable[[t.Any], bool], timeout: float) -> t.Any:
        """The params of the first notification `method` (already received or still to come) that `accept`s."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for message in self._notifications[seen:]:
                if message["method"] == method and accept(message["params"]):
                    return message["params"]
            seen = len(self._notifications)
            self._next(deadline)

    def close(self, timeout: float = 10) -> None:
        """shutdown and exit if the server still listens; killed when it does not leave in time."""
        try:
            if self._process.poll() is None:
                self.request("shutdown", None, timeout)
                self.notify("exit", None)
        except (LspError, OSError):
            pass
        finally:
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=timeout)
            for thread in self._threads:  # they end at the streams' EOF; closing under them would raise there
                thread.join(timeout=timeout)
            for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
                if stream is not None:
                    stream.close()
