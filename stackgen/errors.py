"""One error model: every failure that ends a command is a `StackgenError` carrying its code
and exit code, raised where it happens and printed once, at the CLI's edge.

Exit codes (the one table): 0 ok or up to date; 1 invalid input, stale output (--check) or
changes found; 2 usage or environment errors (unwritable output, kustomize missing, no mirror).
Bad stack.yaml is not an error of this kind: it is diagnostics, and `Invalid` only says that the
command stops there (exit 1) once they are printed.
"""

from __future__ import annotations

import typing as t

from stackgen.diagnostics import EnvironmentProblem

EXIT_OK, EXIT_INVALID, EXIT_ENVIRONMENT = 0, 1, 2


class StackgenError(Exception):
    """A failure of the environment or of input other than stack.yaml: a code, a message, the
    file it concerns (a folder, often) and an exit code. Subclasses fix the code and exit code."""

    code: t.ClassVar[str] = ""
    exit_code: t.ClassVar[int] = EXIT_ENVIRONMENT

    def __init__(self, message: str, file: object = "", hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.file = str(file) if file else ""
        self.hint = hint

    def at(self, file: object) -> StackgenError:
        """The same error, naming `file` if it named none: the driver knows which folder a stage
        was writing, the stage only its own paths."""
        if not self.file:
            self.file = str(file)
        return self

    def problem(self) -> EnvironmentProblem:
        message = self.message
        if self.file and message.startswith(f"{self.file}: "):  # errors that name their file already: say it once
            message = message[len(self.file) + 2:]
        return EnvironmentProblem(self.code, message, self.file, self.hint)


class Invalid(Exception):
    """stack.yaml was rejected: its diagnostics are already reported; the command ends, exit 1."""

    exit_code: t.ClassVar[int] = EXIT_INVALID


class OwnershipError(StackgenError):
    """The output directory holds files stackgen did not write where it would write."""

    code = "SG701"


class OutputError(StackgenError):
    """The output directory cannot be written: permissions, full disk, a busy lock."""

    code = "SG702"


class KustomizeNotFound(StackgenError):
    """No usable kustomize."""

    code = "SG703"


class MirrorError(StackgenError):
    """The mirror is missing, or a remote base has no entry in it."""

    code = "SG704"


class UpstreamMissing(StackgenError):
    """No upstream mirror for the pin: the message says how to vendor one."""

    code = "SG704"


class UpstreamOptionError(StackgenError):
    """An `--upstream` value that names no folder, or two folders for one release (usage: exit 2)."""

    code = "SG704"


class StaleOverlays(StackgenError):
    """Render works on the overlays as written: they must be fresh first (a build fixes it)."""

    code = "SG705"
    exit_code = EXIT_INVALID


class UnknownCluster(StackgenError):
    """`--cluster` (or `explain cluster/...`) named a cluster the stack does not declare."""

    code = "SG706"


class Exists(StackgenError):
    """A file init would write is in the way."""

    code = "SG707"


class GoldenError(StackgenError):
    """A golden file that cannot be read as a golden: a link, a special or oversized file,
    damaged YAML or a damaged index. Goldens come from pull requests: they are input (exit 1)."""

    code = "SG708"
    exit_code = EXIT_INVALID


class UnknownSubject(StackgenError):
    """`explain` was asked about something stack.yaml does not declare (input: exit 1)."""

    code = "SG202"
    exit_code = EXIT_INVALID


class UnknownClusterSubject(UnknownSubject):
    """`explain cluster/NAME` for a cluster the stack does not declare."""

    code = "SG706"
