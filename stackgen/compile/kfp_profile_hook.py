"""Pipelines' per-namespace artifact set-up for an external S3-compatible object store.

This file is shipped as is, as the sync hook of Kubeflow Pipelines' profile controller (the
metacontroller DecoratorController `kubeflow-pipelines-profile-controller`, which calls
`POST /sync` with `{"object": <Namespace>, "attachments": {...}}` for every namespace labelled
`pipelines.kubeflow.org/enabled: "true"`), on clusters whose `objectStore` replaces SeaweedFS.

Upstream's hook at 26.03 creates each namespace's access key through SeaweedFS's IAM API,
hard-codes the bucket `mlpipeline` and a `minio://` pipeline root, and points each namespace's
Argo artifact repository at `<OBJECT_STORE_HOST>.kubeflow:9000` (pipelines#10651): none of that
reaches an external store. This one gives every pipelines namespace the same four objects,
aimed at the store the cluster declares:

- ConfigMap `kfp-launcher`: the namespace's pipeline root in the bucket and the `s3` provider
  (endpoint, region, keys from Secret `mlpipeline-minio-artifact`), as KFP's launcher reads it
  (kubeflow.org, "Object Store Configuration", KFP Launcher);
- ConfigMap `metadata-grpc-configmap`: where MLMD answers, as upstream's hook writes it;
- ConfigMap `artifact-repositories`: Argo's default artifact repository for the namespace
  (its `workflows.argoproj.io/default-artifact-repository` annotation names the key);
- Secret `mlpipeline-minio-artifact`: the cluster's object-store keys (`accesskey`,
  `secretkey`), which this pod reads from the ExternalSecret stackgen writes in `kubeflow`.

Every namespace shares one login: an external store has no per-namespace IAM users to mint,
so isolation between profiles is the bucket policy's, on the key prefixes below.
Standard library only: it runs in upstream's controller image with `python /hooks/sync.py`.
"""

from __future__ import annotations

import base64
import json
import os
import typing as t
from http.server import BaseHTTPRequestHandler, HTTPServer

Object = dict[str, t.Any]
SECRET = "mlpipeline-minio-artifact"


def settings(env: t.Mapping[str, str]) -> dict[str, str]:
    """The store, from the variables stackgen sets on the controller's Deployment."""
    return {
        "bucket": env["STACKGEN_OBJECT_STORE_BUCKET"],
        "host": env["STACKGEN_OBJECT_STORE_HOST"],
        "port": env.get("STACKGEN_OBJECT_STORE_PORT", "443"),
        "region": env.get("STACKGEN_OBJECT_STORE_REGION", "us-east-1"),
        "secure": env.get("STACKGEN_OBJECT_STORE_SECURE", "true"),
        "access_key": env.get("AWS_ACCESS_KEY_ID", ""),
        "secret_key": env.get("AWS_SECRET_ACCESS_KEY", ""),
        "cluster_domain": env.get("CLUSTER_DOMAIN", "cluster.local"),
    }


def desired(namespace: str, store: t.Mapping[str, str]) -> list[Object]:
    """The objects one pipelines namespace needs to run and archive pipelines in the store."""
    secure = store["secure"] == "true"
    endpoint = store["host"] if store["port"] in ("443", "80") else f"{store['host']}:{store['port']}"
    prefix = f"private-artifacts/{namespace}"
    provider = {"s3": {"default": {
        "endpoint": endpoint, "region": store["region"], "disableSSL": not secure, "forcePathStyle": True,
        "credentials": {"fromEnv": False, "secretRef": {"secretName": SECRET, "accessKeyKey": "accesskey", "secretKeyKey": "secretkey"}},
    }}}
    repository = {"archiveLogs": True, "s3": {
        "endpoint": endpoint, "bucket": store["bucket"], "region": store["region"], "insecure": not secure,
        "keyFormat": prefix + "/{{workflow.name}}/{{workflow.creationTimestamp.Y}}/{{workflow.creationTimestamp.m}}/"
                              "{{workflow.creationTimestamp.d}}/{{pod.name}}",
        "accessKeySecret": {"name": SECRET, "key": "accesskey"}, "secretKeySecret": {"name": SECRET, "key": "secretkey"},
    }}
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kfp-launcher", "namespace": namespace},
         "data": {"defaultPipelineRoot": f"s3://{store['bucket']}/{prefix}/v2/artifacts", "providers": json.dumps(provider),
                  "clusterDomain": store["cluster_domain"]}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "metadata-grpc-configmap", "namespace": namespace},
         "data": {"METADATA_GRPC_SERVICE_HOST": "metadata-grpc-service.kubeflow", "METADATA_GRPC_SERVICE_PORT": "8080"}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "artifact-repositories", "namespace": namespace,
                      "annotations": {"workflows.argoproj.io/default-artifact-repository": "default-namespaced"}},
         "data": {"default-namespaced": json.dumps(repository)}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": SECRET, "namespace": namespace},
         "data": {"accesskey": _b64(store["access_key"]), "secretkey": _b64(store["secret_key"])}},
    ]


def sync(parent: Object, attachments: t.Mapping[str, t.Any], store: t.Mapping[str, str]) -> Object:
    """metacontroller's answer for one namespace: its status and the objects it should have."""
    metadata = parent.get("metadata") or {}
    if (metadata.get("labels") or {}).get("pipelines.kubeflow.org/enabled") != "true":
        return {"status": {}, "attachments": []}
    ready = len(attachments.get("Secret.v1") or {}) == 1 and len(attachments.get("ConfigMap.v1") or {}) == 3
    return {"status": {"kubeflow-pipelines-ready": "True" if ready else "False"}, "attachments": desired(str(metadata.get("name")), store)}


def _b64(value: str) -> str:
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


class Hook(BaseHTTPRequestHandler):
    store: t.ClassVar[dict[str, str]] = {}

    def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
        observed = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
        body = json.dumps(sync(observed["object"], observed["attachments"], self.store)).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    Hook.store = settings(os.environ)
    HTTPServer(("", int(os.environ.get("CONTROLLER_PORT", "8080"))), Hook).serve_forever()


if __name__ == "__main__":
    main()
