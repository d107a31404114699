"""One registry of diagnostic codes (stackgen/codes.py): every code the source emits is in it,
every code in it is emitted, each only by the modules it names, and docs/reference.md shows it."""

from __future__ import annotations

import re

from stackgen import codes, errors
from tests.compiling import ROOT

PACKAGE = ROOT / "stackgen"
_LITERAL = re.compile(r"""["'](SG\d{3})["']""")


def _emitted() -> dict[str, set[str]]:
    """Code -> the modules whose source writes it as a string literal (docstrings mention codes unquoted)."""
    found: dict[str, set[str]] = {}
    for source in sorted(PACKAGE.rglob("*.py")):
        module = source.relative_to(PACKAGE).with_suffix("").as_posix()
        if module == "codes":
            continue
        for code in _LITERAL.findall(source.read_text("utf-8")):
            found.setdefault(code, set()).add(module)
    return found


def test_every_emitted_code_is_registered() -> None:
    assert sorted(set(_emitted()) - set(codes.CODES)) == []


def test_every_registered_code_is_emitted() -> None:
    assert sorted(set(codes.CODES) - set(_emitted())) == []


def test_each_code_has_the_homes_it_names() -> None:
    # Where things land is place's rule alone: validate never emits SG204, SG205, SG207 or SG208.
    emitted = _emitted()
    wrong = {code: sorted(modules) for code, modules in emitted.items()
             if code in codes.CODES and modules != set(codes.CODES[code].emitted_by)}
    assert wrong == {}


def test_registry_entries_are_well_formed_and_in_order() -> None:
    assert list(codes.CODES) == sorted(codes.CODES)
    for code, entry in codes.CODES.items():
        assert re.fullmatch(r"SG\d{3}", code) and entry.code == code
        assert entry.severity in ("error", "warning") and entry.meaning and entry.example and "\n" not in entry.meaning


def test_the_reference_publishes_every_code() -> None:
    reference = (ROOT / "docs" / "reference.md").read_text("utf-8")
    rows = re.findall(r"^\| `(SG\d{3})` \| (error|warning) \|", reference, re.M)
    assert rows == [(code, entry.severity) for code, entry in codes.CODES.items()]


def _subclasses(cls: type) -> list[type]:
    return [cls for sub in cls.__subclasses__() for cls in (sub, *_subclasses(sub))]


def test_each_failure_has_a_registered_code_and_its_exit_code() -> None:
    """The one exit table for failures: input from a pull request or a build away from fixed is 1,
    the environment 2 (README, "Command line")."""
    table = {cls.__name__: (cls.code, cls.exit_code) for cls in _subclasses(errors.StackgenError)}
    assert table == {
        "OwnershipError": ("SG701", 2), "OutputError": ("SG702", 2), "KustomizeNotFound": ("SG703", 2), "MirrorError": ("SG704", 2),
        "UpstreamMissing": ("SG704", 2), "UpstreamOptionError": ("SG704", 2), "StaleOverlays": ("SG705", 1), "UnknownCluster": ("SG706", 2), "Exists": ("SG707", 2),
        "GoldenError": ("SG708", 1), "UnknownSubject": ("SG202", 1), "UnknownClusterSubject": ("SG706", 1),
    }
    assert all(code in codes.CODES for code, _ in table.values())


def test_an_error_names_its_file_once() -> None:
    error = errors.OutputError("/out: cannot write: disk full").at("/out")
    assert error.problem().render() == "/out: error: cannot write: disk full [SG702]"
    assert errors.OutputError("disk full", "/first").at("/second").file == "/first"
