"""The compile stage: placement -> the overlay tree, in memory, pure and deterministic.

`overlays` lays out units, layers and cluster folders; `workloads` writes the objects stackgen
authors (training jobs, served models, service accounts); `stores` the External Secrets side;
`gitops` the Argo CD or Flux objects that deliver each unit; `images` the mirror rewrites.
"""

from stackgen.compile.overlays import FileTree, compile_stack

__all__ = ["FileTree", "compile_stack"]
