"""An unchanged build answers from what the last build on this machine recorded, and the record
never changes an answer: whatever happened to the tree or the stack since, a build that may use
it says exactly what a build without it says."""

from __future__ import annotations

import os
import shutil
import typing as t
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from stackgen import buildcache, driver, schemafile
from stackgen import write as writer
from stackgen.diagnostics import Diagnostic
from stackgen.errors import StackgenError
from tests.compiling import ROOT

CASE = ROOT / "tests" / "cases" / "positive" / "minimal" / "stack.yaml"


class _Quiet:
    def __init__(self) -> None:
        self.seen: list[tuple[Diagnostic, ...]] = []

    def diagnostics(self, found: t.Sequence[Diagnostic]) -> None:
        self.seen.append(tuple(found))

    def rendering(self, tool: t.Any, mirror_root: Path) -> None:
        return None

    def rendered(self, rendered: t.Any, overlays: Path) -> None:
        return None


def _build(project: Path, cache: Path, check_only: bool = False) -> tuple[driver.Built, tuple[Diagnostic, ...]]:
    report = _Quiet()
    built = driver.build_stack(driver.BuildOptions(project / "stack.yaml", check_only=check_only), report,
                               env={"XDG_CACHE_HOME": str(cache)})
    return built, report.seen[-1]


def _project(tmp_path: Path, stack: Path = CASE) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(stack, project / "stack.yaml")
    return project


def _no_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> t.NoReturn:
        raise AssertionError("compiled although nothing changed")

    monkeypatch.setattr(driver, "output_tree", refuse)


def test_a_build_with_nothing_changed_does_not_compile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project, cache = _project(tmp_path), tmp_path / "cache"
    first, said_first = _build(project, cache)
    assert first.changes.added
    _no_compile(monkeypatch)
    again, said_again = _build(project, cache)
    checked, said_checked = _build(project, cache, check_only=True)
    assert (again.output, again.changes, again.exit_code) == (first.output, writer.Changes((), (), (), ()), 0)
    assert (checked.changes, checked.exit_code) == (writer.Changes((), (), (), ()), 0)
    assert said_again == said_checked == said_first


def test_warnings_are_said_again_from_the_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warned = next(p for p in sorted((ROOT / "tests" / "cases" / "positive").glob("*/stack.yaml"))
                  if _warnings_of(p))
    project, cache = _project(tmp_path, warned), tmp_path / "cache"
    _, said = _build(project, cache)
    assert said and all(d.severity == "warning" for d in said)
    _no_compile(monkeypatch)
    assert _build(project, cache)[1] == said


def _warnings_of(stack: Path) -> bool:
    outcome = driver.check_stack(stack)
    return isinstance(outcome, driver.Checked) and bool(outcome.diagnostics)


def test_vendored_output_is_never_remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project, cache = _project(tmp_path), tmp_path / "cache"
    text = (project / "stack.yaml").read_text()
    (project / "stack.yaml").write_text(text.replace("spec:\n", "spec:\n  upstream: {mode: vendored}\n", 1))
    compiled = []
    real = driver.output_tree

    def counted(*args: t.Any, **options: t.Any) -> t.Any:
        compiled.append(args)
        return real(*args, **options)

    monkeypatch.setattr(driver, "output_tree", counted)
    _build(project, cache)
    _build(project, cache)
    assert len(compiled) == 2
    assert not (cache / "stackgen" / "builds").exists()


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path: Path) -> None:
    project = _project(tmp_path)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    built, _ = _build(project, blocked)
    assert built.changes.added and _build(project, blocked)[0].changes == writer.Changes((), (), (), ())


# What can happen to a tree between two builds. Each changes what a build must say, or must not.
_MUTATIONS = ("edit", "edit-same-size", "edit-keep-mtime", "delete", "foreign", "symlink", "journal", "staging",
              "stack-comment", "stack-edit", "lock-edit", "touch", "nothing")


def _mutate(project: Path, out: Path, mutation: str, pick: int) -> None:
    present = [out / path for path in sorted(writer.owned(out) or {}) if (out / path).is_file() and not (out / path).is_symlink()]
    if not present:
        return
    victim = present[pick % len(present)]
    if mutation == "edit":
        victim.write_bytes(victim.read_bytes() + b"# edited\n")
    elif mutation in ("edit-same-size", "edit-keep-mtime"):
        before = os.stat(victim)
        data = bytearray(victim.read_bytes())
        data[0] = ord("#") if data[0] != ord("#") else ord(" ")
        victim.write_bytes(bytes(data))
        if mutation == "edit-keep-mtime":  # `cp -p` and `rsync -t` keep the old mtime
            os.utime(victim, ns=(before.st_atime_ns, before.st_mtime_ns))
    elif mutation == "delete":
        victim.unlink()
    elif mutation == "foreign":
        (out / "notes.txt").write_text("mine\n")
    elif mutation == "symlink":
        victim.unlink()
        victim.symlink_to(project / "stack.yaml")  # a link where an owned file was
    elif mutation == "journal":
        (out / writer.JOURNAL_NAME).write_text("{}")
    elif mutation == "staging":
        (out / writer.STAGING_NAME).mkdir(exist_ok=True)
    elif mutation == "stack-comment":
        with open(project / "stack.yaml", "a") as stack:
            stack.write("# a comment changes no output, but the bytes\n")
    elif mutation == "stack-edit":
        text = (project / "stack.yaml").read_text()
        (project / "stack.yaml").write_text(text.replace("name: lab,", "name: lab-b,", 1))  # every path moves
    elif mutation == "lock-edit":
        lock = out / writer.LOCK_NAME
        lock.write_text(lock.read_text().replace("\n", "\n\n", 1))
    elif mutation == "touch":
        os.utime(victim)


def _outcome(project: Path, cache: Path) -> tuple[t.Any, ...]:
    try:
        built, said = _build(project, cache, check_only=True)
    except StackgenError as error:  # refusing (a symlinked lock, say) is an answer to compare too
        return (type(error).__name__, str(error))
    return (built.changes, built.exit_code, said)


@given(st.lists(st.tuples(st.sampled_from(_MUTATIONS), st.integers(0, 10_000)), max_size=3))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_record_never_changes_what_a_build_says(tmp_path_factory: pytest.TempPathFactory, mutations: list[tuple[str, int]]) -> None:
    tmp_path = tmp_path_factory.mktemp("mutated")
    project, cache = _project(tmp_path), tmp_path / "cache"
    built, _ = _build(project, cache)
    for mutation, pick in mutations:
        _mutate(project, built.output, mutation, pick)
    key = buildcache.inputs(project / "stack.yaml", (project / "stack.yaml").read_bytes(), str(project / "stack.yaml"), None)
    event("answered from the record" if buildcache.lookup(key, {"XDG_CACHE_HOME": str(cache)}) else "compiled and compared")
    with_record = _outcome(project, cache)
    without = _outcome(project, tmp_path / "no-cache")
    assert with_record == without, mutations


def test_the_record_is_keyed_by_the_schema_and_the_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a checkout the schema lives in schemas/, outside the package: a changed schema may
    refuse a stack the record says was fine, so it is part of the key, as every package file is."""
    stack = CASE.read_bytes()
    before = buildcache.inputs(CASE, stack, "stack.yaml", None)
    edited = tmp_path / "stack.schema.json"
    edited.write_text(schemafile.schema_path().read_text() + "\n")
    monkeypatch.setattr(schemafile, "schema_path", lambda: edited)
    assert buildcache.inputs(CASE, stack, "stack.yaml", None).digest != before.digest
    monkeypatch.undo()
    assert buildcache.inputs(CASE, stack, "stack.yaml", None) == before
    assert buildcache.inputs(CASE, stack + b"# more\n", "stack.yaml", None).digest != before.digest
    assert buildcache.inputs(CASE, stack, "other.yaml", None).digest != before.digest
