"""Data package (installed as ``beam_pipelines.examples``): example pipelines (Beam YAML),
read with ``beam_pipelines.resources``."""
