"""User functions: ``ApplyUserFunction`` runs a Python function on every row, its errors
becoming dead letters (stage ``user``)."""

from beam_pipelines.transforms.udf.apply import ApplyUserFunction, load_function

__all__ = ['ApplyUserFunction', 'load_function']
