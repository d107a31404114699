"""The fuzz target shared by hypothesis (tests/test_fuzz.py) and atheris (run as a script).

`check(data)` runs load and validate on any bytes and, where the stack is valid, model, place,
compile and the writer's path check, and says how far it got; it raises AssertionError when an invariant breaks and lets
any other exception escape, which is the bug a fuzzer looks for.

The other inputs a pull request can carry have targets of their own, each with its invariant:
`check_golden_index(data)` (a golden index, diffed: a diff or a GoldenError), and
`check_journal(data, root)` / `check_lock(data, root)` (planted beside a written tree, then a
build: it succeeds or refuses with OwnershipError, and never touches a file it does not own or
anything outside the output directory).

    python3 tests/fuzz_stack.py CORPUS_DIR -runs=N    # atheris (libFuzzer flags)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script: import this checkout's stackgen, instrumented
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import atheris

    with atheris.instrument_imports(include=["stackgen"]):
        from stackgen import golden, write
        from stackgen.compile.overlays import compile_stack
        from stackgen.diagnostics import has_errors, locate
        from stackgen.load import load_bytes
        from stackgen.model import build_model
        from stackgen.place import place
        from stackgen.validate import validate
        from stackgen.write import check_tree
else:
    from stackgen import golden, write
    from stackgen.compile.overlays import compile_stack
    from stackgen.diagnostics import has_errors, locate
    from stackgen.load import load_bytes
    from stackgen.model import build_model
    from stackgen.place import place
    from stackgen.validate import validate
    from stackgen.write import check_tree


_YAML_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
"""Line breaks as YAML (and libyaml's marks) count them: a lone CR ends a line too."""


def _within(text: str, line: int, column: int) -> bool:
    lines = _YAML_BREAKS.split(text)  # a file ending in a newline has an empty last line: EOF is there
    return 1 <= line <= len(lines) and 1 <= column <= len(lines[line - 1]) + 1


LOADED, VALIDATED, PLACED, COMPILED = "loaded", "validated", "placed", "compiled"
"""How far `check` got: the last stage the input passed (an empty string: refused at load)."""


def check(data: bytes) -> str:
    """The last stage the bytes passed; refusals along the way are located diagnostics."""
    loaded = load_bytes(data, "fuzz.yaml")
    diagnostics = validate(loaded)
    assert (loaded.tree is None) == (not loaded.ok)
    text = data.decode("utf-8-sig", errors="replace")
    for diagnostic in diagnostics:
        assert _within(text, diagnostic.line, diagnostic.column), diagnostic.render()
    for diagnostic in diagnostics:
        assert diagnostic.line >= 1 and diagnostic.column >= 1 and diagnostic.code.startswith("SG"), diagnostic.render()
        diagnostic.render()
        diagnostic.as_json()
    if not loaded.ok:
        return ""
    if has_errors(diagnostics):
        return LOADED
    stack = build_model(loaded.tree)
    placement = place(stack)
    if has_errors(locate(placement.findings, loaded.file, loaded.source)):
        return VALIDATED
    files = compile_stack(stack, placement).files
    check_tree(files)
    return COMPILED


GOLDEN_INDEX = (b"cluster: c\nkustomize: v5.5.0\nupstream: {kubeflow: '26.03'}\nresources:\n"
                b"- {apiVersion: v1, kind: Namespace, namespace: '', name: ml, origin: own, sha256: '0a'}\n")
TREE = {"clusters/a/kustomization.yaml": b"a\n", "units/x/kustomization.yaml": b"x\n"}
_FOREIGN = "notes.md"


def check_golden_index(data: bytes) -> None:
    """Any bytes as the old golden index of a cluster: a diff in every format, or a GoldenError."""
    try:
        diff = golden.diff_cluster("c", {"index.yaml": data}, {"index.yaml": GOLDEN_INDEX})
        golden.golden_pin({"index.yaml": data})
    except golden.GoldenError as error:
        assert "Traceback" not in str(error)
        return
    for render in (golden.render_text, golden.render_markdown, golden.render_json):
        render([diff])


def _planted(root: Path, name: str, data: bytes) -> tuple[Path, dict[str, bytes]]:
    """A written tree with a user's file in it, `data` planted at `name`, and a file beside it."""
    out = root / "out"
    write.write(out, TREE)
    (out / _FOREIGN).write_bytes(b"mine\n")
    (root / "beside").write_bytes(b"outside\n")
    (out / name).write_bytes(data)
    return out, {"beside": b"outside\n", f"out/{_FOREIGN}": b"mine\n"}


def _untouched(root: Path, kept: dict[str, bytes]) -> None:
    for path, content in kept.items():
        assert (root / path).read_bytes() == content, f"{path} changed"
    assert sorted(p.name for p in root.iterdir()) == ["beside", "out"], "something was written outside the output"


def check_journal(data: bytes, root: Path) -> None:
    """Any bytes as a journal: the next build finishes it or refuses it, within what it owns."""
    out, kept = _planted(root, write.JOURNAL_NAME, data)
    try:
        write.write(out, TREE)
    except write.OwnershipError:
        pass
    _untouched(root, kept)


def check_lock(data: bytes, root: Path) -> None:
    """Any bytes as the lock: the build trusts a well-formed lock and refuses a damaged one; it
    never writes outside the output, whatever the lock names."""
    out, kept = _planted(root, write.LOCK_NAME, data)
    try:
        write.write(out, TREE)
    except write.OwnershipError:
        pass
    kept.pop(f"out/{_FOREIGN}")  # a well-formed lock may claim the user's file: the lock is the owner's word
    _untouched(root, kept)


def _one_input(data: bytes) -> None:
    check(data)
    check_golden_index(data)


if __name__ == "__main__":
    atheris.Setup(sys.argv, _one_input)
    atheris.Fuzz()
