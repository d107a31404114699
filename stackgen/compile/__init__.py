"""The compile stage: placement -> the overlay tree, in memory, pure and deterministic.

`overlays.compile_stack` is the stage's entry: it lays out units, layers and cluster folders
and returns their layout (`stackgen/layout.py`) beside the files; `workloads` writes the
objects stackgen authors (training jobs, served models, service accounts, tenants' Profiles);
`stores` the External Secrets side; `signon` Dex's connectors or oauth2-proxy's external
issuer; `tls` the gateway's certificate; `external` an external MySQL and object store in
place of upstream's (with `kfp_profile_hook`, the Pipelines sync hook it ships); `gitops` the
Argo CD or Flux objects that deliver each unit; `images` the mirror rewrites. This package
imports none of them itself: place reads `stores` for where a secret store is, and must not
pull in the compiler that imports place.
"""
