"""Data package (installed as ``beam_pipelines.templates``): each template's metadata.json,
sample parameters and Dockerfile, read with ``beam_pipelines.resources``."""
