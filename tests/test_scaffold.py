"""`stackgen init`: the starter stack validates and builds as written, for every cloud and engine,
never overwrites, and its modeline names a schema that is really there (also from a wheel)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from stackgen import scaffold
from stackgen.cli import cli
from stackgen.load import load_bytes
from stackgen.validate import schema_text, validate
from tests.compiling import ROOT

COMBINATIONS: list[tuple[scaffold.Cloud, ...]] = [
    ("aws",), ("gcp",), ("azure",), ("onprem",),
    ("aws", "gcp", "azure", "onprem"),
    ("onprem", "azure"),  # on-prem first: the dataset is a pvc:// claim and the model is on S3 elsewhere
]
ENGINES: tuple[scaffold.Engine, ...] = scaffold.ENGINES
MODELINE = "# yaml-language-server: $schema=./stack.schema.json\n"


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _cloud_args(clouds: t.Sequence[str]) -> list[str]:
    return [arg for cloud in clouds for arg in ("--cloud", cloud)]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("clouds", COMBINATIONS, ids=["-".join(c) for c in COMBINATIONS])
def test_init_output_validates_and_builds_as_is(clouds: tuple[str, ...], engine: str, tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    made = _run("init", "-o", str(stack), "--engine", engine, *_cloud_args(clouds))
    assert made.exit_code == 0, made.output
    valid = _run("validate", "-f", str(stack))
    assert (valid.exit_code, valid.stderr) == (0, ""), valid.output  # not even a warning
    assert f"valid ({len(clouds)} cluster{'' if len(clouds) == 1 else 's'})" in valid.stdout
    built = _run("build", "-f", str(stack))
    assert (built.exit_code, built.stderr) == (0, ""), built.output
    assert _run("build", "--check", "-f", str(stack)).exit_code == 0
    tree = yaml.safe_load(stack.read_text())
    assert tree["spec"]["gitops"]["engine"] == engine
    assert [c["cloud"] for c in tree["spec"]["clusters"]] == list(clouds)
    for cluster in tree["spec"]["clusters"]:
        assert (tmp_path / "overlays" / "clusters" / cluster["name"] / "kustomization.yaml").is_file()
    assert (tmp_path / "overlays" / "gitops" / engine).is_dir()


def test_every_cloud_declares_the_identity_its_workloads_read_with() -> None:
    clusters = yaml.safe_load(scaffold.render(scaffold.CLOUDS, "argocd"))["spec"]["clusters"]
    identity = {c["cloud"]: c.get("identity") for c in clusters}
    assert identity == {
        "aws": {"awsRoleArn": "arn:aws:iam::123456789012:role/ml-platform-workloads"},
        "gcp": {"gcpServiceAccount": "ml-workloads@example-ml-project.iam.gserviceaccount.com"},
        "azure": {"azureClientId": "0b8f7c1e-4d2a-4f6b-9c3e-5a7d1e2f3b4c"},
        "onprem": None,
    }
    onprem = next(c for c in clusters if c["cloud"] == "onprem")
    assert (onprem["storageClass"], onprem["s3Endpoint"]) == ("local-path", "https://minio.fra.example.internal")


def test_training_and_the_model_go_to_the_first_cloud_whose_store_holds_them() -> None:
    # Served on every cluster, the gs:// model would be out of reach of aws-use1's pods (SG409).
    spec = yaml.safe_load(scaffold.render(("gcp", "aws"), "flux"))["spec"]
    assert [(c["name"], c["roles"]) for c in spec["clusters"]] == [("gcp-euw4", ["training", "serving"]), ("aws-use1", ["serving"])]
    assert spec["datasets"] == [{"name": "example-data", "uri": "gs://example-ml-data/datasets/example", "cluster": "gcp-euw4"}]
    assert spec["models"][0]["serveOn"] == ["gcp-euw4"]


def test_default_is_one_aws_cluster() -> None:
    assert scaffold.render((), "argocd") == scaffold.render(("aws",), "argocd")


def test_a_repeated_cloud_is_a_usage_error_not_silently_one_cluster(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", "-o", str(tmp_path / "stack.yaml"), "--cloud", "aws", "--cloud", "gcp", "--cloud", "aws"])
    assert result.exit_code == 2
    assert "--cloud aws given more than once" in result.output
    assert list(tmp_path.iterdir()) == []


def test_modeline_is_the_first_line_and_names_the_schema_written_beside(tmp_path: Path) -> None:
    stack = tmp_path / "deploy" / "stack.yaml"  # a folder that does not exist yet
    result = _run("init", "-o", str(stack), "--cloud", "azure")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {stack.parent / 'stack.schema.json'}\nwrote {stack}\nnext: stackgen validate -f {stack}\n"
    assert stack.read_text().startswith(MODELINE)
    assert (stack.parent / "stack.schema.json").read_text() == _run("schema").stdout == schema_text()


def test_the_file_is_commented_and_schema_clean() -> None:
    text = scaffold.render(scaffold.CLOUDS, "flux")
    loaded = load_bytes(text.encode(), "stack.yaml")
    assert loaded.ok and validate(loaded) == []
    for section in ("gitops:", "clusters:", "components:", "datasets:", "trainingJobs:", "models:"):
        before = text.splitlines()[text.splitlines().index(f"  {section}") - 1]
        assert before.startswith("  # "), f"{section} has no comment above it"


def test_commented_examples_are_valid_once_uncommented() -> None:
    for clouds in [("aws",), ("gcp",), ("azure",), ("onprem",)]:
        text = scaffold.render(clouds, "argocd")
        for example in ("  # secrets:\n", "  # registry:"):
            text = text.replace(example, example.replace("  # ", "  ", 1))
        text = text.replace("  #   - {name: example-token", "    - {name: example-token")
        loaded = load_bytes(text.encode(), "stack.yaml")
        assert loaded.ok and validate(loaded) == [], (clouds, [d.render() for d in validate(loaded)])


@pytest.mark.parametrize(("cloud", "issuer", "codes"), [
    ("aws", False, {"SG401"}), ("aws", True, set()), ("gcp", False, set()), ("azure", False, {"SG407"}), ("onprem", False, {"SG407"}),
])
def test_what_the_comments_say_about_pipelines_holds(cloud: str, issuer: bool, codes: set[str], tmp_path: Path) -> None:
    """Uncommented, pipelines needs the EKS issuer on AWS and declared secrets on Azure and on-prem."""
    text = scaffold.render((cloud,), "argocd").replace("    # pipelines: {runsOn: [training]}", "    pipelines: {runsOn: [training]}")
    if issuer:
        text = text.replace("      # oidcIssuer: https://oidc.eks.us-east-1.amazonaws.com/id/<ID>",
                            "      oidcIssuer: https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0123456789ABCDEF")
    (tmp_path / "stack.yaml").write_text(text)
    result = _run("validate", "--format", "json", "-f", str(tmp_path / "stack.yaml"))
    assert {d["code"] for d in json.loads(result.stdout)} == codes
    assert result.exit_code == (1 if codes else 0)


def test_an_existing_stack_is_never_overwritten(tmp_path: Path) -> None:
    stack = tmp_path / "stack.yaml"
    stack.write_text("mine\n")
    result = _run("init", "-o", str(stack))
    assert result.exit_code == 2
    assert result.stderr == f"error: {stack} exists; not overwriting it (remove it, or choose another path with -o) [SG707]\n"
    assert stack.read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stack.yaml"]


def test_an_identical_schema_is_kept_and_a_different_one_refused(tmp_path: Path) -> None:
    (tmp_path / "stack.schema.json").write_text(schema_text())
    kept = _run("init", "-o", str(tmp_path / "stack.yaml"))
    assert kept.exit_code == 0, kept.output
    assert kept.stdout.startswith(f"wrote {tmp_path / 'stack.yaml'}\n")
    other = tmp_path / "other"
    other.mkdir()
    (other / "stack.schema.json").write_text("{}\n")
    refused = _run("init", "-o", str(other / "stack.yaml"))
    assert refused.exit_code == 2
    assert "stack.schema.json exists and differs from this stackgen's schema" in refused.stderr
    assert sorted(p.name for p in other.iterdir()) == ["stack.schema.json"]
    assert (other / "stack.schema.json").read_text() == "{}\n"


def test_the_stack_cannot_take_the_schemas_name(tmp_path: Path) -> None:
    result = _run("init", "-o", str(tmp_path / "stack.schema.json"))
    assert result.exit_code == 2
    assert "is where the schema goes" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_exits_2_without_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = _run("init", "-o", str(blocker / "stack.yaml"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot write {blocker}") and "[SG702]" in result.stderr


def test_bad_cloud_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["init", "--cloud", "mars"])
    assert result.exit_code == 2 and "'mars' is not one of 'aws', 'gcp', 'azure', 'onprem'" in result.output


def _init_in_subprocess(cwd: Path, env: dict[str, str], python_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stackgen", "init", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(python_path), **env})


def test_same_bytes_whatever_the_hash_seed_or_locale(tmp_path: Path) -> None:
    outputs = []
    for index, (seed, locale) in enumerate([("0", "C"), ("4242", "C.UTF-8")]):
        work = tmp_path / str(index)
        work.mkdir()
        done = _init_in_subprocess(work, {"PYTHONHASHSEED": seed, "LC_ALL": locale}, ROOT, "--cloud", "onprem", "--cloud", "gcp")
        assert done.returncode == 0, done.stderr
        outputs.append((work / "stack.yaml").read_bytes())
    assert outputs[0] == outputs[1] == scaffold.render(("onprem", "gcp"), "argocd").encode()


def test_the_wheel_carries_the_template_and_init_works_from_it(tmp_path: Path) -> None:
    """Built with the project's own backend, unpacked (not installed) and run from elsewhere."""
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-c", "import sys; from hatchling.build import build_wheel; print(build_wheel(sys.argv[1]))",
                            str(dist)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    if built.returncode != 0 and "No module named 'hatchling'" in built.stderr:
        pytest.skip("hatchling (the build backend) is not installed")
    assert built.returncode == 0, built.stderr
    site = tmp_path / "site"
    with zipfile.ZipFile(dist / built.stdout.strip().splitlines()[-1]) as wheel:
        assert {"stackgen/templates/stack.yaml.j2", "stackgen/stack.schema.json"} <= set(wheel.namelist())
        wheel.extractall(site)
    work = tmp_path / "work"
    work.mkdir()
    done = _init_in_subprocess(work, {}, site, "--engine", "flux")
    assert done.returncode == 0, done.stderr
    assert (work / "stack.yaml").read_bytes() == scaffold.render(("aws",), "flux").encode()
    assert (work / "stack.schema.json").read_bytes() == (ROOT / "schemas" / "stack.schema.json").read_bytes()
