"""Fuzzing with a fixed budget, reproducible in CI.

hypothesis mutates structurally plausible stacks (the bundled stack.yaml and every test case:
drop, duplicate, retype, swap and rename keys and values; then line-level edits of the text),
and atheris (libFuzzer, coverage-guided) mutates their bytes. Both run one target,
tests/fuzz_stack.py: any bytes end as a compiled tree or as diagnostics located inside the
file, never an exception. `derandomize=True` and a fixed libFuzzer seed make every CI run try
the same inputs.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackgen.load import load_bytes
from tests import reach
from tests.fuzz_stack import (
    COMPILED,
    GOLDEN_INDEX,
    check,
    check_golden_index,
    check_journal,
    check_lock,
)

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "cases"
SEEDS = sorted([ROOT / "stack.yaml", *CASES.glob("*/*/stack.yaml")])

STRUCTURAL_EXAMPLES = 400
TEXTUAL_EXAMPLES = 300
PLAUSIBLE_EXAMPLES = 200
ATHERIS_RUNS = 20_000
BOOKKEEPING_EXAMPLES = 120
INDEX_EXAMPLES = 300



def budget(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _seed_trees() -> list[t.Any]:
    trees = []
    for path in SEEDS:
        loaded = load_bytes(path.read_bytes())
        if loaded.ok:
            trees.append(loaded.tree)
    return trees


SEED_TREES = _seed_trees()
VALID_SEEDS = [ROOT / "stack.yaml", *sorted(CASES.glob("positive/*/stack.yaml"))]
VALID_SEED_TREES = [load_bytes(path.read_bytes()).tree for path in VALID_SEEDS]
SEED_TEXTS = [path.read_bytes() for path in SEEDS]

Path_ = tuple[str | int, ...]


def _paths(node: t.Any, prefix: Path_ = ()) -> list[Path_]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, prefix + (index,))
    return found


def _get(tree: t.Any, path: Path_) -> t.Any:
    for part in path:
        tree = tree[part]
    return tree


_ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.sampled_from(["", "aws-use1", "training", "edge", "ml", "1.31", "s3://b/k", "AKIAABCDEFGHIJKLMNOP",
                                          "https://u:p@h/x", "../x", "kubeflow", "vault", "nvidia", "pytorch"]),
    st.just([]), st.just({}), st.lists(st.sampled_from(["training", "serving", "edge", "notebooks", "aws-use1"]), max_size=3),
)


@st.composite
def mutated_trees(draw: st.DrawFn) -> t.Any:
    tree = copy.deepcopy(draw(st.sampled_from(SEED_TREES)))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(tree) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, last = _get(tree, path[:-1]), path[-1]
        operation = draw(st.sampled_from(["drop", "duplicate", "retype", "swap", "rename", "add-key"]))
        if operation == "drop":
            del parent[last]
        elif operation == "duplicate" and isinstance(parent, list):
            parent.insert(t.cast(int, last), copy.deepcopy(parent[t.cast(int, last)]))
        elif operation == "retype":
            parent[last] = draw(_ODD_VALUES)
        elif operation == "swap":
            other = draw(st.sampled_from(paths))
            if other[: len(path)] != path and path[: len(other)] != other:
                other_parent = _get(tree, other[:-1])
                parent[last], other_parent[other[-1]] = copy.deepcopy(other_parent[other[-1]]), copy.deepcopy(parent[last])
        elif operation == "rename" and isinstance(parent, dict):
            new_key = draw(st.sampled_from([str(last)[:-1], str(last).upper(), str(last) + "s", "runsOn", "name", "cluster", "password"]))
            if new_key and new_key not in parent:
                parent[new_key] = parent.pop(last)
        elif operation == "add-key" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "runsOn", "namespace", "auth", "gpu", "identity", "token"]))] = draw(_ODD_VALUES)
    return tree


def _dump(tree: t.Any, flow: bool) -> bytes:
    return yaml.safe_dump(tree, sort_keys=False, default_flow_style=None if flow else False, allow_unicode=True).encode()


@reach.reaching("validate", floor=0.95)
@budget(STRUCTURAL_EXAMPLES)
@given(mutated_trees(), st.booleans())
def test_mutated_stacks_compile_or_give_located_diagnostics(tree: t.Any, flow: bool) -> None:
    reach.example(check(_dump(tree, flow)) != "")


_OPTIONAL_KEYS = ("gpu", "storageClass", "identity", "ingressHost", "s3Endpoint", "oidcIssuer", "replicas", "registry",
                  "runsOn", "namespace", "auth", "server", "topology", "revision", "size")
_SELECTORS = ["training", "serving", "notebooks", "edge", "aws-use1", "gcp-euw4", "azure-weu", "edge-store17"]


@st.composite
def plausible_trees(draw: st.DrawFn) -> t.Any:
    """Mutations that keep a valid stack mostly valid, so model, place and compile run too."""
    tree = copy.deepcopy(draw(st.sampled_from(VALID_SEED_TREES)))
    for _ in range(draw(st.integers(1, 5))):
        paths = [p for p in _paths(tree) if p]
        path = draw(st.sampled_from(paths))
        node, parent, last = _get(tree, path), _get(tree, path[:-1]), path[-1]
        operation = draw(st.sampled_from(["reorder", "drop-optional", "selectors", "small-int", "engine"]))
        if operation == "reorder" and isinstance(node, list):
            parent[last] = draw(st.permutations(node))
        elif operation == "drop-optional" and isinstance(parent, dict) and last in _OPTIONAL_KEYS:
            del parent[last]
        elif operation == "selectors" and last in ("runsOn", "serveOn", "roles"):
            parent[last] = draw(st.lists(st.sampled_from(_SELECTORS[:4] if last == "roles" else _SELECTORS), min_size=1, max_size=3, unique=True))
        elif operation == "small-int" and isinstance(node, int) and not isinstance(node, bool):
            parent[last] = draw(st.integers(0, 9))
        elif operation == "engine" and isinstance(tree.get("spec"), dict) and isinstance(tree["spec"].get("gitops"), dict):
            tree["spec"]["gitops"]["engine"] = draw(st.sampled_from(["argocd", "flux"]))
            hub_ready = all(isinstance(c, dict) and "server" in c for c in tree["spec"].get("clusters") or [])
            tree["spec"]["gitops"]["topology"] = draw(st.sampled_from(["standalone", "hub"] if hub_ready else ["standalone"]))
    return tree


@reach.reaching("compile", floor=0.75)
@budget(PLAUSIBLE_EXAMPLES)
@given(plausible_trees())
def test_plausible_stacks_compile_or_give_located_diagnostics(tree: t.Any) -> None:
    reach.example(check(_dump(tree, flow=False)) == COMPILED)


@st.composite
def edited_texts(draw: st.DrawFn) -> bytes:
    lines = draw(st.sampled_from(SEED_TEXTS)).split(b"\n")
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(lines) - 1))
        operation = draw(st.sampled_from(["delete", "duplicate", "indent", "dedent", "tab", "truncate", "swap", "insert"]))
        if operation == "delete":
            del lines[index]
        elif operation == "duplicate":
            lines.insert(index, lines[index])
        elif operation == "indent":
            lines[index] = b"  " + lines[index]
        elif operation == "dedent":
            lines[index] = lines[index][2:]
        elif operation == "tab":
            lines[index] = b"\t" + lines[index]
        elif operation == "truncate":
            lines[index] = lines[index][: draw(st.integers(0, max(len(lines[index]) - 1, 0)))]
        elif operation == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
        else:
            lines.insert(index, draw(st.sampled_from([b"- x", b"  - {}", b"&a x", b"*a", b"---", b"? a", b": b", b"key: [", b"}", b"\xff", b"\r"])))
        if not lines:
            lines = [b""]
    return b"\n".join(lines)


@reach.reaching("validate", floor=0.15)
@budget(TEXTUAL_EXAMPLES)
@given(edited_texts())
def test_edited_stack_texts_compile_or_give_located_diagnostics(data: bytes) -> None:
    reach.example(check(data) != "")


def test_every_seed_is_checked_and_the_valid_ones_compile() -> None:
    results = {path.relative_to(ROOT).as_posix(): check(path.read_bytes()) for path in SEEDS}
    assert results["stack.yaml"] == COMPILED
    assert all(stage == COMPILED for name, stage in results.items() if "/positive/" in name)
    assert not any(stage == COMPILED for name, stage in results.items() if "/negative/" in name)


# --- journals, locks and golden indexes: the other inputs a pull request carries ------------

import json  # noqa: E402
import tempfile  # noqa: E402

from stackgen import write as writer  # noqa: E402

_JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-3, 10**20), st.text(max_size=12)),
                     lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                     max_leaves=20)
_PATHS = st.sampled_from(["units/x/kustomization.yaml", "clusters/a/kustomization.yaml", "notes.md", "../beside", "/etc/passwd",
                          "", ".", "units", ".stackgen.lock", "a//b", "units/x/kustomization.yaml/x", "\x00", "new/file.yaml"])


@st.composite
def journals(draw: st.DrawFn) -> bytes:
    """Journals as a crash or an attacker leaves them: well formed with hostile paths, wrong
    shapes, or cut short."""
    kind = draw(st.sampled_from(["shaped", "any json", "cut"]))
    lock = {"generator": "stackgen", "files": draw(st.dictionaries(_PATHS, st.sampled_from(["0" * 64, "x"]), max_size=4))}
    body: t.Any = {"write": draw(st.lists(_PATHS, max_size=3)), "remove": draw(st.lists(_PATHS, max_size=3)),
                   "lock": draw(st.sampled_from([json.dumps(lock), "{", "[]", "5"]))}
    if kind == "any json":
        body = draw(st.one_of(_JSON, st.fixed_dictionaries({"write": _JSON, "remove": _JSON, "lock": _JSON})))
    text = json.dumps(body).encode()
    return text[: draw(st.integers(0, len(text)))] if kind == "cut" else text


@st.composite
def locks(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["shaped", "any json", "cut", "deep"]))
    if kind == "deep":
        depth = draw(st.integers(900, 5_000))
        return b'{"files": ' + b"[" * depth + b"]" * depth + b"}"
    body: t.Any = {"generator": "stackgen", "files": draw(st.dictionaries(_PATHS, st.one_of(st.just("0" * 64), _JSON), max_size=4))}
    if kind == "any json":
        body = draw(_JSON)
    text = json.dumps(body).encode()
    return text[: draw(st.integers(0, len(text)))] if kind == "cut" else text


@budget(BOOKKEEPING_EXAMPLES)
@given(journals())
def test_any_journal_is_finished_or_refused_within_what_stackgen_owns(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as root:
        check_journal(data, Path(root))


@budget(BOOKKEEPING_EXAMPLES)
@given(locks())
def test_any_lock_is_trusted_or_refused_and_nothing_outside_is_touched(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as root:
        check_lock(data, Path(root))


@st.composite
def golden_indexes(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return yaml.safe_dump(draw(st.one_of(_JSON, st.fixed_dictionaries({"resources": st.lists(_JSON, max_size=3),
                                                                             "upstream": _JSON})))).encode()
    lines = GOLDEN_INDEX.split(b"\n")
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(lines) - 1))
        lines[index] = draw(st.sampled_from([b"", b"&a x", b"*a", b"- {kind: [x]}", b"resources: 5", b"\xff", b"  - ]",
                                             lines[index][: len(lines[index]) // 2], b"upstream: [1]"]))
    return b"\n".join(lines)


@budget(INDEX_EXAMPLES)
@given(golden_indexes())
def test_any_golden_index_diffs_or_is_refused(data: bytes) -> None:
    check_golden_index(data)


def test_the_bookkeeping_targets_accept_what_stackgen_writes() -> None:
    """The invariants hold on the genuine article too: a real journal is finished."""
    with tempfile.TemporaryDirectory() as root:
        journal = {"write": [], "remove": ["units/x/kustomization.yaml"], "lock": writer.lock_text({"clusters/a/kustomization.yaml": b"a\n"}).decode()}
        check_journal(json.dumps(journal).encode(), Path(root))
    check_golden_index(GOLDEN_INDEX)


# --- atheris -----------------------------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None,
                    reason="atheris is not installed (pip install '.[fuzz]'; wheels exist for Linux x86_64 only)")
def test_atheris_runs_a_fixed_budget_without_a_finding(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for index, seed in enumerate(SEEDS):
        (corpus / f"seed-{index:03d}.yaml").write_bytes(seed.read_bytes())
    # atheris.Fuzz() ends the process: it runs as its own child, with libFuzzer's own bounds.
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "fuzz_stack.py"), str(corpus), f"-runs={ATHERIS_RUNS}", "-seed=1",
         "-max_len=8192", "-rss_limit_mb=1024", "-timeout=30", f"-artifact_prefix={tmp_path}/"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"Done {ATHERIS_RUNS} runs" in result.stderr
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("timeout-*")) and not list(tmp_path.glob("oom-*"))
