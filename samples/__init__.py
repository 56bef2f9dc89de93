"""Data package (installed as ``beam_pipelines.samples``): sample events, schema, masking
policy, quality rules, lookup and erase list, read with ``beam_pipelines.resources``."""
