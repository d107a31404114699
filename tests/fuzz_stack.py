"""The fuzz target shared by hypothesis (tests/test_fuzz.py) and atheris (run as a script).

`check(data)` runs load and validate on any bytes and, where the stack is valid, model, place,
compile and the writer's path check; it raises AssertionError when an invariant breaks and lets
any other exception escape, which is the bug a fuzzer looks for.

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
        from stackgen.compile import compile_stack
        from stackgen.diagnostics import has_errors, locate
        from stackgen.load import load_bytes
        from stackgen.model import build_model
        from stackgen.place import place
        from stackgen.validate import validate
        from stackgen.write import check_tree
else:
    from stackgen.compile import compile_stack
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


def check(data: bytes) -> bool:
    """True when the stack compiled; False when it was refused with diagnostics."""
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
    if has_errors(diagnostics):
        return False
    stack = build_model(loaded.tree)
    placement = place(stack)
    if has_errors(locate(placement.findings, loaded.file, loaded.source)):
        return False
    files = compile_stack(stack, placement)
    check_tree(files)
    return True


def _one_input(data: bytes) -> None:
    check(data)


if __name__ == "__main__":
    atheris.Setup(sys.argv, _one_input)
    atheris.Fuzz()
