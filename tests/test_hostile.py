"""Hostile stack.yaml inputs, run through the real CLI in a child process with bounded time and memory.

Every input must end as exit 1 with a located diagnostic (`FILE:LINE:COL: error: ... [SGnnn]`),
no traceback, bounded output, and nothing written anywhere: not the output directory, not beside
stack.yaml, not in the working directory, HOME, the cache or TMPDIR (all inside the sandbox).
The bounds are the ones docs/security.md states.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import subprocess
import sys
import typing as t
from dataclasses import dataclass
from pathlib import Path

import pytest

from stackgen.diagnostics import printable

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = (ROOT / "stack.yaml").read_text("utf-8")

WALL_SECONDS = 30
"""Per command; a clean refusal takes well under a second."""
MEMORY_BYTES = 1 << 30
"""RLIMIT_AS of the child: address space, so it bounds every allocation including libyaml's."""
MAX_OUTPUT = 64 * 1024
MAX_LINE = 1000

_DIAGNOSTIC = re.compile(r"^(?P<file>.+?):(?P<line>[1-9][0-9]*):(?P<col>[1-9][0-9]*): error: .* \[SG[0-9]{3}\]$", re.M)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


@dataclass(frozen=True)
class Sandbox:
    root: Path
    stack: Path
    out: Path

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")}
        return {
            **keep, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1",
            "HOME": str(self.root / "home"), "XDG_CACHE_HOME": str(self.root / "cache"), "TMPDIR": str(self.root / "tmp"),
        }


def _sandbox(tmp_path: Path, data: bytes) -> Sandbox:
    for folder in ("home", "cache", "tmp", "work"):
        (tmp_path / folder).mkdir()
    stack = tmp_path / "repo" / "stack.yaml"
    stack.parent.mkdir()
    stack.write_bytes(data)
    return Sandbox(tmp_path, stack, tmp_path / "out")


def _snapshot(root: Path) -> dict[str, bytes | str]:
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        found[key] = "link" if path.is_symlink() else "dir" if path.is_dir() else path.read_bytes()
    return found


def run_cli(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stackgen", *args], cwd=sandbox.root / "work", env=sandbox.env(), capture_output=True,
        timeout=WALL_SECONDS, preexec_fn=_limit_memory, text=True, errors="replace",
    )


# --- the table ---------------------------------------------------------------------------


def _replace(old: str, new: str) -> bytes:
    assert old in BUNDLED, old
    return BUNDLED.replace(old, new, 1).encode("utf-8")


def _quoted(name: str) -> str:
    # YAML double quotes read JSON escapes; the file itself stays plain UTF-8 (and NUL-free).
    return json.dumps(name, ensure_ascii=False)


HOSTILE_NAMES = {
    "dotdot": "..",
    "dotdot-x": "../x",
    "etc-passwd": "/etc/passwd",
    "slash": "a/b",
    "nul": "a\x00b",
    "10000-chars": "x" * 10_000,
    "cyrillic-lookalike": "аws-use1",
    "lock-file": ".stackgen.lock",
    "upper-case-twin": "AWS-USE1",  # DNS-1123 is lowercase: names can never differ only in case
    "escape-sequence": "\x1b]0;pwned\x07\x1b[2J",
    "newline-forgery": "x\n/etc/passwd:1:1: error: forged [SG000]",
}
NAME_FIELDS = {
    "cluster": ("- name: aws-use1", "- name: {}"),
    "component": ("katib: {runsOn", "{}: {{runsOn"),
    "model": ("{name: resnet50, storageUri", "{{name: {}, storageUri"),
    "dataset": ("{name: imagenet,", "{{name: {},"),
    "secret": ("{name: s3-credentials,", "{{name: {},"),
    "trainingJob": ("{name: resnet50, dataset", "{{name: {}, dataset"),
}


def _name_cases() -> dict[str, bytes]:
    cases = {}
    for field, (old, new) in NAME_FIELDS.items():
        for label, name in HOSTILE_NAMES.items():
            cases[f"{field}-name-{label}"] = _replace(old, new.format(_quoted(name)))
    return cases


def _billion_laughs() -> bytes:
    lines = ['lol0: &lol0 "lol"']
    lines += [f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * 10) + "]" for i in range(1, 10)]
    return ("\n".join(lines) + "\n").encode()


def _ten_megabytes() -> bytes:
    padding = 10_000_000 - len(BUNDLED.encode()) - 1
    data = BUNDLED.encode() + b"#" + b"x" * (padding - 1) + b"\n"
    assert len(data) == 10_000_000
    return data


def _garbage(seed: int, size: int) -> bytes:
    generator = random.Random(seed)
    return bytes(generator.getrandbits(8) for _ in range(size))


HUGE = "1" + "0" * 5000  # 10**5000: past Python's 4,300-digit int/str conversion limit

OTHER_CASES: dict[str, bytes] = {
    "billion-laughs": _billion_laughs(),
    "ten-megabytes": _ten_megabytes(),
    "nesting-20000-flow-sequences": b"a: " + b"[" * 20_000 + b"]" * 20_000 + b"\n",
    "nesting-20000-flow-mappings": b"a: " + b"{a: " * 20_000 + b"1" + b"}" * 20_000 + b"\n",
    # block style on one line: each `- ` opens a block sequence inside the previous one
    "nesting-20000-block-sequences": b"a:\n  " + b"- " * 20_000 + b"x\n",
    "nesting-20000-inside-the-stack": _replace("katib: {runsOn: [training]}", "katib: {runsOn: " + "[" * 20_000 + "]" * 20_000 + "}"),
    "invalid-utf8": BUNDLED.encode().replace(b"acme-ml\n", b"acme-\xffml\n", 1),
    "utf16-le-bom": b"\xff\xfe" + BUNDLED.encode("utf-16-le"),
    "utf16-be-bom": b"\xfe\xff" + BUNDLED.encode("utf-16-be"),
    "utf32-bom": BUNDLED.encode("utf-32"),
    "utf16-without-bom": BUNDLED.encode("utf-16-le"),
    "replicas-10**5000": _replace("replicas: 2", f"replicas: {HUGE}"),
    "workers-10**5000": _replace("workers: 4", f"workers: {HUGE}"),
    "gpusPerWorker-minus-10**5000": _replace("gpusPerWorker: 8", f"gpusPerWorker: -{HUGE}"),
    "replicas-10**5000-hex": _replace("replicas: 2", "replicas: 0x" + "f" * 5000),
    "replicas-10**5000-quoted": _replace("replicas: 2", f'replicas: "{HUGE}"'),
    "key-10**5000": _replace("  components:\n", f"  {HUGE}: 1\n  components:\n"),
    "replicas-1e400": _replace("replicas: 2", "replicas: 1e400"),
    "replicas-1.0e+400": _replace("replicas: 2", "replicas: 1.0e+400"),
    "replicas-nan": _replace("replicas: 2", "replicas: .nan"),
    "workers-inf": _replace("workers: 4", "workers: .inf"),
    "gpusPerWorker-minus-inf": _replace("gpusPerWorker: 8", "gpusPerWorker: -.inf"),
    "replicas-2.5": _replace("replicas: 2", "replicas: 2.5"),
    "replicas-timestamp": _replace("replicas: 2", "replicas: 2001-12-14"),
    "replicas-true": _replace("replicas: 2", "replicas: yes"),
    "empty-file": b"",
    "only-comments": b"# nothing here\n# at all\n",
    "only-a-document-marker": b"---\n",
    "top-level-list": b"- apiVersion: stackgen.io/v1alpha1\n- kind: Stack\n",
    "top-level-scalar": b"Stack\n",
    "top-level-null": b"~\n",
    "binary-garbage": bytes(range(256)) * 40,
    "random-bytes": _garbage(7, 20_000),
    "nul-bytes": b"\x00" * 4096,
    "python-object-tag": _replace("kind: Stack", 'kind: !!python/object/apply:os.system ["touch {}"]'),
    "gitops-path-escapes": _replace("path: overlays", "path: ../../../etc"),
    "gitops-path-absolute": _replace("path: overlays", "path: /tmp/stackgen-escape"),
    "two-documents": BUNDLED.encode() + b"---\n" + BUNDLED.encode(),
}


def _cases() -> dict[str, bytes]:
    return {**_name_cases(), **OTHER_CASES}


CASES = _cases()


def _check_text(sandbox: Sandbox, result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    shown = output[:2000]
    assert result.returncode == 1, shown
    assert "Traceback" not in output and "internal error" not in output, shown
    located = list(_DIAGNOSTIC.finditer(output))
    assert located, shown
    assert {m.group("file") for m in located} == {str(sandbox.stack)}, shown
    assert len(output) <= MAX_OUTPUT and max(len(line) for line in output.splitlines()) <= MAX_LINE, shown
    # a name can neither drive the terminal nor forge a diagnostic line of its own
    assert "\x1b" not in output and not any(line.startswith("/etc/passwd:") for line in output.splitlines()), shown


def _check_json(sandbox: Sandbox, result: subprocess.CompletedProcess[str]) -> None:
    shown = (result.stdout + result.stderr)[:2000]
    assert result.returncode == 1 and "Traceback" not in result.stderr, shown
    assert len(result.stdout) <= MAX_OUTPUT, shown
    diagnostics = json.loads(result.stdout)
    assert any(d["severity"] == "error" for d in diagnostics), shown
    for diagnostic in diagnostics:
        assert diagnostic["file"] == str(sandbox.stack) and re.fullmatch(r"SG[0-9]{3}", diagnostic["code"]), diagnostic
        assert diagnostic["line"] >= 1 and diagnostic["column"] >= 1, diagnostic


@pytest.mark.parametrize("data", list(CASES.values()), ids=list(CASES))
def test_hostile_input_is_refused_cleanly_and_writes_nothing(tmp_path: Path, data: bytes) -> None:
    data = data.replace(b"touch {}", b"touch " + str(tmp_path / "pwned").encode())
    sandbox = _sandbox(tmp_path, data)
    before = _snapshot(tmp_path)
    _check_text(sandbox, run_cli(sandbox, "validate", "-f", str(sandbox.stack)))
    _check_json(sandbox, run_cli(sandbox, "build", "-f", str(sandbox.stack), "-o", str(sandbox.out), "--format", "json"))
    assert not sandbox.out.exists()
    assert _snapshot(tmp_path) == before


def test_build_without_o_writes_nowhere_for_an_escaping_gitops_path(tmp_path: Path) -> None:
    sandbox = _sandbox(tmp_path, CASES["gitops-path-escapes"])
    before = _snapshot(tmp_path)
    _check_text(sandbox, run_cli(sandbox, "build", "-f", str(sandbox.stack)))
    assert _snapshot(tmp_path) == before


def test_a_utf8_bom_is_accepted_and_only_out_is_written(tmp_path: Path) -> None:
    sandbox = _sandbox(tmp_path, b"\xef\xbb\xbf" + BUNDLED.encode())
    before = _snapshot(tmp_path)
    validated = run_cli(sandbox, "validate", "-f", str(sandbox.stack))
    assert validated.returncode == 0, validated.stderr
    built = run_cli(sandbox, "build", "-f", str(sandbox.stack), "-o", str(sandbox.out))
    assert built.returncode == 0, built.stderr
    after = _snapshot(tmp_path)
    # Besides `out`, a build that succeeds records itself in the user's cache, and only there
    # (stackgen/buildcache.py: the next unchanged build answers from it).
    recorded = [k for k in after if k.startswith("cache/stackgen/builds/")]
    assert len(recorded) == 1 and recorded[0].endswith(".json")
    written = {k: v for k, v in after.items() if k != "out" and not k.startswith("out/") and k not in recorded}
    assert written == {**before, "cache/stackgen": "dir", "cache/stackgen/builds": "dir"}
    assert (sandbox.out / ".stackgen.lock").is_file()
    # the BOM changes nothing: same overlays as the bundled stack compiles to
    assert _snapshot(sandbox.out) == _snapshot(ROOT / "overlays")


def test_the_table_covers_the_brief() -> None:
    assert len(_name_cases()) == len(NAME_FIELDS) * len(HOSTILE_NAMES)
    assert len(OTHER_CASES["ten-megabytes"]) == 10_000_000


def test_printable_escapes_control_characters_and_clips_long_words() -> None:
    assert printable("a\x1b[2Jb") == "a\\u001b[2Jb"
    assert printable("x\ny") == "x\\u000ay"
    assert printable("\u202eevil") == "\\u202eevil"
    clipped = printable("got `" + "x" * 10_000 + "` here")
    assert len(clipped) < 200 and clipped.endswith("more) here")
    assert printable("café déjà-vu") == "café déjà-vu"


DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def _named_fields(node: object, trail: tuple[str, ...] = ()) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            for key, value in properties.items():
                if key in ("name", "namespace", "cluster", "dataset") and isinstance(value, dict):
                    found["/".join(trail + (key,))] = value
        for key, value in node.items():
            found.update(_named_fields(value, trail + (str(key),)))
    elif isinstance(node, list):
        for value in node:
            found.update(_named_fields(value, trail))
    return found


def test_every_name_the_compiler_could_put_in_a_path_is_a_dns_label_in_the_schema() -> None:
    """The first line of defence (the writer's check_tree is the second): no name can hold `/`,
    `.`, NUL or upper case, and components are the catalog's own names."""
    schema = json.loads((ROOT / "schemas" / "stack.schema.json").read_text())
    named = _named_fields(schema)
    assert len(named) >= 13
    for where, field in named.items():
        assert field.get("pattern") == DNS_LABEL and t.cast(int, field.get("maxLength")) <= 63, where
    assert schema["properties"]["spec"]["properties"]["components"]["additionalProperties"] is False
    path = schema["properties"]["spec"]["properties"]["gitops"]["properties"]["path"]["pattern"]
    for escaping in ("..", "../x", "a/../../x", "/etc", "a/..", "a\\b"):
        assert not re.search(path, escaping), escaping
