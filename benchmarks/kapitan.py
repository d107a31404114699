"""stackgen beside Kapitan on the same fleet: `stackgen build` against `kapitan compile` of an
equivalent inventory, as ratios to one bare kustomize build run in this same process.

    pip install -e '.[bench]'
    python benchmarks/kapitan.py [--sizes 100 1000] [--repeat 3] [--upstream ../shared/upstream]

The inventory is made from what stackgen compiles for benchmarks/cli.py's realistic fleet, so
both tools write the same files: for each shape of cluster (cloud, roles, whether a training job
lands there) one cluster's files become Jinja2 templates, its own values (name, region, EKS
issuer, IAM role, service account, ingress host, job and dataset) replaced by references to the
target's parameters; every cluster is a Kapitan target of its shape's class, with its values as
parameters; the files no cluster owns are one more target. Kapitan then does what a hand-kept
Kapitan repository does for this fleet: render every target's templates from its inventory.
What Kapitan does not do (resolve components and dependencies, place jobs and models, validate
with located errors) is already done in the templates, so the ratio flatters Kapitan.

Equivalence is measured, not assumed: each figure line says for how many targets Kapitan's
output is byte for byte the files stackgen wrote for that cluster.

A benchmark, never a test: tests/test_benchmarks.py only checks the inventory is well formed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.cli import _set_aside, _spread, _stackgen, realistic_fleet, yardstick  # noqa: E402

SHARED = "shared"  # the target holding the files no cluster owns (units shared by the fleet)
_CLUSTER_TOKEN = "CLUSTER"  # stands for the cluster's name in template paths


class Inventory(t.NamedTuple):
    files: dict[str, str]  # path under the inventory root -> text
    expected: dict[str, dict[str, bytes]]  # target -> path under compiled/<target>/ -> bytes stackgen wrote


def cluster_values(tree: t.Mapping[str, t.Any]) -> dict[str, dict[str, str]]:
    """Each cluster's own values in the fleet's stack.yaml, as the strings they become in its files."""
    spec = tree["spec"]
    values: dict[str, dict[str, str]] = {}
    for cluster in spec["clusters"]:
        own = {"name": cluster["name"], "region": cluster["region"], "server": cluster["server"]}
        for key in ("oidcIssuer", "ingressHost", "s3Endpoint"):
            if key in cluster:
                own[key] = cluster[key]
        own.update({key: value for key, value in cluster.get("identity", {}).items()})
        values[cluster["name"]] = own
    datasets = {d["name"]: d for d in spec["datasets"]}
    for job in spec["trainingJobs"]:
        dataset = datasets[job["dataset"]]
        values[dataset["cluster"]].update({"job": job["name"], "dataset": dataset["name"], "datasetUri": dataset["uri"]})
    return values


def _owner_pattern(names: t.Iterable[str]) -> re.Pattern[str]:
    # A cluster owns a path that names it as a whole word (`units/auth-aws-0004/`, `clusters/aws-0004/`).
    return re.compile(r"(?<![A-Za-z0-9])(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")(?![A-Za-z0-9])")


def _shape(cluster: t.Mapping[str, t.Any], values: t.Mapping[str, str]) -> str:
    return "-".join([cluster["cloud"], *cluster["roles"], "job" if "job" in values else "nojob"])


def _literal(text: str) -> str:
    """Text Jinja2 writes out as it is: only the three openers need quoting, and as expressions,
    since Kapitan's environment trims the line break after a block tag such as `{% raw %}`."""
    return re.sub(r"\{[{%#]", lambda found: "{{ '" + found.group(0) + "' }}", text)


def _template(text: str, values: t.Mapping[str, str]) -> str:
    # Longest value first: an issuer URL holds the region, a dataset URI the dataset's name.
    ordered = sorted((v for v in values.values() if v), key=len, reverse=True)
    keys = {v: k for k, v in values.items() if v}
    pieces = re.split("(" + "|".join(map(re.escape, ordered)) + ")", text)
    out = [("{{ inventory.parameters.c." + keys[piece] + " }}") if index % 2 else _literal(piece) for index, piece in enumerate(pieces)]
    # Jinja2 drops one final line break (keep_trailing_newline is off in Kapitan).
    return "".join(out) + "\n"


def _generic_path(path: str, owner_of: re.Pattern[str], values: t.Mapping[str, str]) -> str:
    """Where Kapitan writes a cluster's file: Kapitan names outputs as its templates are named,
    so a path that holds a value (`trainjob-job-7.yaml`) holds the value's key instead."""
    path = owner_of.sub(_CLUSTER_TOKEN, path)
    for key, value in sorted(values.items(), key=lambda item: len(item[1]), reverse=True):
        if key != "name" and value and "/" not in value:
            path = re.sub(r"(?<![A-Za-z0-9])" + re.escape(value) + r"(?![A-Za-z0-9])", key.upper(), path)
    return path


def inventory(stack: bytes, overlays: t.Mapping[str, bytes]) -> Inventory:
    """The Kapitan inventory and templates that write `overlays` (what stackgen compiled from `stack`)."""
    tree = yaml.safe_load(stack)
    values = cluster_values(tree)
    owner_of = _owner_pattern(values)
    by_cluster: dict[str, dict[str, bytes]] = {}
    for path, content in overlays.items():
        owner = owner_of.search(path)
        by_cluster.setdefault(owner.group(1) if owner else SHARED, {})[path] = content
    files: dict[str, str] = {}
    expected: dict[str, dict[str, bytes]] = {SHARED: dict(by_cluster.get(SHARED, {}))}
    shapes: dict[str, str] = {}  # shape -> the cluster whose files are its templates
    for cluster in tree["spec"]["clusters"]:
        name = cluster["name"]
        shape = _shape(cluster, values[name])
        if shape not in shapes:
            shapes[shape] = name
            for path, content in by_cluster.get(name, {}).items():
                files[f"templates/{shape}/{_generic_path(path, owner_of, values[name])}"] = _template(content.decode(), values[name])
        files[f"inventory/targets/{name}.yml"] = yaml.safe_dump(
            {"classes": [f"shapes.{shape}"], "parameters": {"c": values[name]}}, sort_keys=True)
        expected[name] = {_generic_path(p, owner_of, values[name]): c for p, c in by_cluster.get(name, {}).items()}
    for shape in shapes:
        files[f"inventory/classes/shapes/{shape}.yml"] = yaml.safe_dump({"parameters": {"kapitan": {
            "vars": {"target": "${c:name}"},
            "compile": [{"output_path": ".", "input_type": "jinja2", "input_paths": [f"templates/{shape}"]}],
        }}}, sort_keys=True)
    for path, content in expected[SHARED].items():
        files[f"templates/{SHARED}/{path}"] = _literal(content.decode()) + "\n"
    files[f"inventory/targets/{SHARED}.yml"] = yaml.safe_dump({"parameters": {"kapitan": {
        "vars": {"target": SHARED},
        "compile": [{"output_path": ".", "input_type": "jinja2", "input_paths": [f"templates/{SHARED}"]}],
    }}}, sort_keys=True)
    return Inventory(files, expected)


def same_output(compiled: Path, expected: t.Mapping[str, t.Mapping[str, bytes]]) -> int:
    """How many targets Kapitan wrote exactly as stackgen did (no file missing, extra or different)."""
    same = 0
    for target, want in expected.items():
        root = compiled / target
        got = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()} if root.is_dir() else {}
        same += got == dict(want)
    return same


def _compiled_tree(overlays: Path) -> dict[str, bytes]:
    return {p.relative_to(overlays).as_posix(): p.read_bytes() for p in overlays.rglob("*")
            if p.is_file() and not p.name.startswith(".stackgen")}


def _kapitan(kapitan: str, root: Path, work: Path) -> float:
    _set_aside(root / "compiled", work)  # as stackgen's output is: both write into a new folder
    start = time.perf_counter()
    done = subprocess.run([kapitan, "compile"], cwd=root, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"kapitan compile exited {done.returncode}:\n{done.stderr[-4000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", type=Path, default=ROOT.parent / "shared" / "upstream")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kapitan", default=shutil.which("kapitan") or "kapitan", help="the kapitan command ([bench] extra)")
    args = parser.parse_args()
    if shutil.which(args.kapitan) is None:
        raise SystemExit("kapitan is not installed: pip install -e '.[bench]' (Kapitan 0.36.3)")
    version = subprocess.run([args.kapitan, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="stackgen-kapitan-bench-"))
    try:
        unit = yardstick(args.upstream, work, args.repeat)
        env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache"), "STACKGEN_UPSTREAM": str(args.upstream)}
        print(f"kapitan {version}; ratios are to the yardstick, and Kapitan's time to stackgen's")
        for size in args.sizes:
            _compare(args, work, env, unit, size)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _compare(args: argparse.Namespace, work: Path, env: dict[str, str], unit: float, size: int) -> None:
    project = work / f"fleet-{size}"
    project.mkdir()
    stack = realistic_fleet(size)
    (project / "stack.yaml").write_bytes(stack)
    builds = []
    for _ in range(args.repeat):
        _set_aside(project / "overlays", work)
        builds.append(_stackgen(["build", "-q"], env, project))
    made = inventory(stack, _compiled_tree(project / "overlays"))
    root = work / f"kapitan-{size}"
    for path, text in made.files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    compiles = [_kapitan(args.kapitan, root, work) for _ in range(args.repeat)]
    same = same_output(root / "compiled", made.expected)
    print(f"  {size:>6} clusters  stackgen build {_spread(builds)} ({min(builds) / unit:5.2f}x)"
          f"   kapitan compile {_spread(compiles)} ({min(compiles) / unit:5.2f}x)"
          f"   kapitan / stackgen: {min(compiles) / min(builds):5.1f}x"
          f"   identical output: {same} of {len(made.expected)} targets", flush=True)


if __name__ == "__main__":
    main()
