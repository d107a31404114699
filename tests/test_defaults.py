"""One source for defaults: what model.py fills in for an omitted key is exactly the schema's
`default` for it (which docs/reference.md and the editors show), and every schema default is
applied by the model."""

from __future__ import annotations

import typing as t

from stackgen import validate
from stackgen.driver import Checked, check_loaded
from stackgen.load import load_bytes
from stackgen.model import Stack
from tests.compiling import model_of

MINIMAL = """\
apiVersion: stackgen.io/v1alpha1
kind: Stack
metadata: {name: t}
spec:
  gitops: {engine: flux, repoURL: "https://git.example.com/ml.git"}
  clusters:
    - {name: a, cloud: aws, region: us-east-1, kubernetesVersion: "1.31", roles: [training, serving]}
  datasets:
    - {name: d, uri: "hf://org/d", cluster: a}  # no cloud store: no identity to declare (SG410)
  trainingJobs:
    - {name: j, dataset: d, image: "x/y:1"}
  models:
    - {name: m, storageUri: "hf://org/m", format: onnx, serveOn: [serving]}
  secrets:
    - {name: s, store: aws-secrets-manager, key: k}
  components:
    training-operator: {runsOn: [training]}
    profiles: {runsOn: [training]}
  tenants:
    - {name: team, owner: a@example.com, contributors: [{user: b@example.com}]}
"""

# Each scalar default of the schema, by its path, and where the model keeps it.
APPLIED: t.Mapping[str, t.Callable[[Stack], object]] = {
    "spec.upstream.kubeflow": lambda s: s.upstream.kubeflow,
    "spec.upstream.mode": lambda s: s.upstream.mode,
    "spec.gitops.topology": lambda s: s.gitops.topology,
    "spec.gitops.revision": lambda s: s.gitops.revision,
    "spec.gitops.path": lambda s: s.gitops.path,
    "spec.trainingJobs[].workers": lambda s: s.training_jobs[0].workers,
    "spec.trainingJobs[].gpusPerWorker": lambda s: s.training_jobs[0].gpus_per_worker,
    "spec.trainingJobs[].namespace": lambda s: s.training_jobs[0].namespace,
    "spec.trainingJobs[].runtime": lambda s: s.training_jobs[0].runtime,
    "spec.models[].replicas": lambda s: s.models[0].replicas,
    "spec.models[].gpus": lambda s: s.models[0].gpus,
    "spec.models[].namespace": lambda s: s.models[0].namespace,
    "spec.secrets[].namespace": lambda s: s.secrets[0].namespace,
    # MINIMAL declares no external database: the model's reading of one without `port`.
    "spec.clusters[].database.port": lambda s: model_of(MINIMAL.replace(
        "roles: [training, serving]}", "roles: [training, serving], database: {host: db.example.com, credentials: s}}")).clusters[0].database.port,  # type: ignore[union-attr]
    "spec.tenants[].contributors[].role": lambda s: s.tenants[0].contributors[0].role,
}


def _schema_defaults(node: t.Mapping[str, t.Any], path: str = "") -> dict[str, object]:
    found: dict[str, object] = {}
    if "default" in node and not isinstance(node["default"], (dict, list)):  # `upstream: {}` only says the object may be left out
        found[path] = node["default"]
    for name, child in node.get("properties", {}).items():
        found.update(_schema_defaults(child, f"{path}.{name}" if path else name))
    if isinstance(node.get("items"), dict):
        found.update(_schema_defaults(node["items"], f"{path}[]"))
    return found


def test_minimal_stack_is_valid() -> None:
    checked = check_loaded(load_bytes(MINIMAL.encode()))
    assert isinstance(checked, Checked) and checked.diagnostics == ()


def test_the_model_applies_exactly_the_schemas_defaults() -> None:
    stack = model_of(MINIMAL)
    assert {path: read(stack) for path, read in APPLIED.items()} == _schema_defaults(validate.load_schema())


def test_example_profile_defaults_to_off_as_the_schema_says() -> None:
    # Under definitions (reached by $ref), which the walk above does not follow.
    schema = validate.load_schema()["definitions"]["profilesPlacement"]["properties"]["exampleProfile"]
    assert model_of(MINIMAL).example_profile is schema["default"] is False
