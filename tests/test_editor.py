"""Editor support, proven with the real tools: yaml-language-server reads the schema through the
modeline `stackgen init` writes, and ajv (draft-07, strict) agrees with stackgen's validator
(jsonschema's Draft7Validator, patterns read as ECMA-262) on the schema's verdict for every file
of the test corpus, every init output, and strings ending in characters the two regex dialects
read differently.

Both run the pinned Node packages of tests/node (see tests/nodetools.py); without node and
npm, or offline, these tests skip and say why.
"""

from __future__ import annotations

import json
import os
import subprocess
import typing as t
from pathlib import Path

import jsonschema
import pytest

from stackgen import scaffold
from stackgen.load import load_bytes
from stackgen.validate import _validator, load_schema, schema_text
from tests import nodetools
from tests.compiling import BUNDLED, CASES
from tests.lsp import Client

TIMEOUT = 120  # seconds for any one answer: a busy 2-core machine, never a hang


@pytest.fixture(scope="session")
def node_tools() -> Path:
    return nodetools.install()


def _settings(section: str) -> t.Any:
    # schemaStore off: the server would otherwise fetch schemastore.org's catalog, and its
    # matches must not compete with the modeline.
    return {
        "yaml": {"validate": True, "completion": True, "hover": True, "schemaStore": {"enable": False}, "format": {"enable": False}},
        "editor": {"tabSize": 2, "detectIndentation": False},
    }.get(section, {})


@pytest.fixture
def server(node_tools: Path, tmp_path: Path) -> t.Iterator[Client]:
    client = Client([str(nodetools.binary(node_tools, "yaml-language-server")), "--stdio"], _settings, cwd=str(tmp_path))
    try:
        client.request("initialize", {
            "processId": None,
            "rootUri": tmp_path.as_uri(),
            "capabilities": {
                "workspace": {"configuration": True, "didChangeConfiguration": {"dynamicRegistration": True}},
                "textDocument": {"completion": {"completionItem": {"snippetSupport": True}}, "publishDiagnostics": {}},
            },
        }, TIMEOUT)
        client.notify("initialized", {})
        client.notify("workspace/didChangeConfiguration", {"settings": {"yaml": _settings("yaml")}})
        yield client
    finally:
        client.close()


def _position(lines: list[str], needle: str) -> tuple[int, int]:
    [line] = [index for index, text in enumerate(lines) if needle in text]
    return line, lines[line].index(needle)


@pytest.mark.parametrize("where", [".", "deploy/platform"])
def test_language_server_checks_and_completes_through_the_init_modeline(server: Client, tmp_path: Path, where: str) -> None:
    stack = tmp_path / where / "stack.yaml"  # the modeline is relative to the stack, wherever it is
    scaffold.write(stack, ("aws", "gcp"), "argocd")  # the real files: stack.schema.json is read from disk
    text = stack.read_text()
    assert text.startswith("# yaml-language-server: $schema=./stack.schema.json\n")
    # A misspelt key in the second cluster, and a third cluster being typed: only its name so far.
    text = text.replace("      region: europe-west4\n", "      regoin: europe-west4\n")
    text = text.replace("\n  # Kubeflow components", "    - name: new-cluster\n      \n\n  # Kubeflow components")
    lines = text.split("\n")
    uri = stack.as_uri()
    server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}})

    published = server.wait_for("textDocument/publishDiagnostics",
                                lambda p: p["uri"] == uri and any("regoin" in d["message"] for d in p["diagnostics"]), TIMEOUT)
    [misspelt] = [d for d in published["diagnostics"] if "regoin" in d["message"]]
    line, column = _position(lines, "regoin:")
    assert misspelt["range"] == {"start": {"line": line, "character": column}, "end": {"line": line, "character": column + len("regoin")}}
    assert misspelt["message"] == "Property regoin is not allowed."
    assert misspelt["severity"] == 1  # Error

    blank = lines.index("    - name: new-cluster") + 1
    completion = server.request("textDocument/completion",
                                {"textDocument": {"uri": uri}, "position": {"line": blank, "character": 6}}, TIMEOUT)
    items = completion["items"] if isinstance(completion, dict) else completion
    labels = {item["label"] for item in items}
    assert {"cloud", "region", "roles", "kubernetesVersion"} <= labels, sorted(labels)
    assert "name" not in labels  # already there
    assert "regoin" not in labels and "apiVersion" not in labels  # only a cluster's own keys
    region = next(item for item in items if item["label"] == "region")
    cluster_schema = json.loads(schema_text())["properties"]["spec"]["properties"]["clusters"]["items"]
    described = cluster_schema["properties"]["region"]["description"]
    assert described in json.dumps(region)  # the schema's description, for hover and completion


def _corpus() -> dict[str, Path]:
    files = {"bundled": BUNDLED}
    for kind in ("positive", "negative"):
        for case in sorted((CASES / kind).iterdir()):
            if (case / "stack.yaml").is_file():
                files[f"{kind}/{case.name}"] = case / "stack.yaml"
    return files


def _as_json(path: Path) -> t.Any:
    """The tree stackgen validates, as JSON; None where the loader already refuses the file."""
    loaded = load_bytes(path.read_bytes(), path.name)
    return loaded.tree if loaded.ok else None


# Characters on which ECMA-262 and Python's `re` disagree (stackgen/ecma.py), appended to
# every string of a valid stack, one document each.
_EDGES = {"newline": "\n", "nel": "\x85x", "bom": "\ufeffx", "nbsp": "\xa0x", "file-separator": "\x1cx",
          "line-separator": "\u2028x", "carriage-return": "\rx", "arabic-digit": "\u0663"}


def _strings(node: t.Any, path: tuple[str | int, ...] = ()) -> t.Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, (*path, index))
    elif isinstance(node, str):
        yield path, node


def _edge_documents(tree: t.Any) -> dict[str, t.Any]:
    documents = {}
    for path, value in _strings(tree):
        for label, suffix in _EDGES.items():
            document = json.loads(json.dumps(tree))
            node = document
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value + suffix
            documents[f"edge/{'.'.join(map(str, path))}/{label}"] = document
    return documents


def test_ajv_and_jsonschema_agree_on_every_corpus_file(node_tools: Path) -> None:
    documents = {name: tree for name, path in _corpus().items() if (tree := _as_json(path)) is not None}
    for clouds in [*((cloud,) for cloud in scaffold.CLOUDS), scaffold.CLOUDS]:
        for engine in scaffold.ENGINES:
            documents[f"init/{'-'.join(clouds)}/{engine}"] = _init_tree(clouds, engine)
    edges = _edge_documents(_init_tree(scaffold.CLOUDS, "argocd")) | _edge_documents(_as_json(BUNDLED))
    done = _ajv(node_tools, load_schema(), documents | edges)
    assert done.returncode == 0, done.stderr  # 2: ajv's strict mode refused the schema
    assert done.stderr == ""  # strict mode would also have logged here
    ajv = {name: verdict["valid"] for name, verdict in json.loads(done.stdout).items()}
    # stackgen's validator: jsonschema's Draft7Validator with patterns read as ECMA-262.
    python = {name: not any(True for _ in _validator().iter_errors(tree)) for name, tree in (documents | edges).items()}
    assert sorted(ajv) == sorted(python)
    assert {name for name in ajv if ajv[name] != python[name]} == set()
    # Plain Draft7Validator agrees on the corpus, and on the edges shows why patterns need ECMA.
    plain = jsonschema.Draft7Validator(load_schema())
    assert all(plain.is_valid(tree) == ajv[name] for name, tree in documents.items())
    assert sum(plain.is_valid(tree) != ajv[name] for name, tree in edges.items()) >= 40
    # Both verdicts occur, and every positive case and init output is valid.
    assert set(python.values()) == {True, False}
    assert all(python[name] for name in documents if not name.startswith("negative/"))
    assert sum(not python[name] for name in documents) >= 10
    assert sum(not python[name] for name in edges) >= 200


def _ajv(node_tools: Path, schema: t.Any, documents: dict[str, t.Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", str(nodetools.PACKAGE / "validate.js")], input=json.dumps({"schema": schema, "documents": documents}),
                          capture_output=True, text=True, timeout=TIMEOUT, env={**os.environ, "NODE_PATH": str(node_tools / "node_modules")})


def _init_tree(clouds: t.Sequence[scaffold.Cloud], engine: scaffold.Engine) -> t.Any:
    loaded = load_bytes(scaffold.render(clouds, engine).encode())
    assert loaded.ok
    return loaded.tree


def test_ajv_strict_mode_refuses_a_schema_oddity(node_tools: Path) -> None:
    """So the agreement above also means ajv found nothing to object to in the schema."""
    schema = load_schema() | {"properties": {**load_schema()["properties"], "kind": {"const": "Stack", "minimum": 1}}}
    done = _ajv(node_tools, schema, {})
    assert done.returncode == 2
    assert done.stderr.startswith("schema does not compile: strict mode:"), done.stderr  # keyword minimum without type
