"""stackgen: compile one stack.yaml into one self-contained Kustomize overlay per cluster."""

__version__ = "0.1.0"
