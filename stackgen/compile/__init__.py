"""The compile stage: placement -> the overlay tree, in memory, pure and deterministic.

`overlays.compile_stack` is the stage's entry: it lays out units, layers and cluster folders;
`workloads` writes the objects stackgen authors (training jobs, served models, service
accounts); `stores` the External Secrets side; `gitops` the Argo CD or Flux objects that deliver
each unit; `images` the mirror rewrites. This package imports none of them itself: place reads
`stores` for where a secret store is, and must not pull in the compiler that imports place.
"""
