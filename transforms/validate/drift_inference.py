"""Schema drift: which input fields the table schema lacks, and their inferred BigQuery types.

Type inference: bool -> BOOL, integer -> INT64, other number -> FLOAT64, string -> STRING
(no guessing of dates or timestamps from text), object -> RECORD (fields inferred the same
way), array -> REPEATED of its elements' type (integers and floats mixed -> FLOAT64; objects
merged). A new field that is null (or an empty array) everywhere in a record is not added
yet: it carries no value, nothing is lost, and it will be added by the first record that has
one. Values whose type cannot be inferred (arrays of arrays, empty objects) raise
``NotInferable``.
"""

from dataclasses import replace

from beam_pipelines.transforms.core.schema import FieldSpec, TableSchema


def _merge(a, b):
  """Two inferred FieldSpecs of one name -> one (None when they cannot agree)."""
  if a is None:
    return b
  if b is None:
    return a
  if a.type == b.type == 'RECORD':
    by_name = {f.name.lower(): f for f in a.fields}
    fields = list(a.fields)
    for f in b.fields:
      if f.name.lower() in by_name:
        merged = _merge(by_name[f.name.lower()], f)
        fields[fields.index(by_name[f.name.lower()])] = merged
      else:
        fields.append(f)
    return replace(a, fields=tuple(fields))
  if {a.type, b.type} == {'INT64', 'FLOAT64'}:
    return replace(a, type='FLOAT64')
  return a  # first seen wins; validation reports values that do not fit


class NotInferable(ValueError):
  """A value whose BigQuery type cannot be inferred."""

def infer_field(name, value, mode='NULLABLE'):
  """A NULLABLE (or REPEATED) FieldSpec for a JSON value; None for null / empty arrays.

  Raises:
    NotInferable: arrays of arrays, empty objects.
  """
  if value is None:
    return None
  if isinstance(value, bool):
    return FieldSpec(name=name, type='BOOL', mode=mode)
  if isinstance(value, int):
    return FieldSpec(name=name, type='INT64', mode=mode)
  if isinstance(value, float):
    return FieldSpec(name=name, type='FLOAT64', mode=mode)
  if isinstance(value, str):
    return FieldSpec(name=name, type='STRING', mode=mode)
  if isinstance(value, dict):
    fields = []
    for key, item in value.items():
      spec = infer_field(key, item)
      if spec is not None:
        fields.append(spec)
    if not fields:
      raise NotInferable(f'{name}: an object without typed values')
    return FieldSpec(name=name, type='RECORD', mode=mode, fields=tuple(fields))
  if isinstance(value, (list, tuple)):
    if mode == 'REPEATED':
      raise NotInferable(f'{name}: arrays of arrays cannot be a BigQuery column')
    spec = None
    for item in value:
      spec = _merge(spec, infer_field(name, item, mode='REPEATED'))
    return spec
  raise NotInferable(f'{name}: a value of type {type(value).__name__}')


def describe_field(spec):
  if spec.type == 'RECORD':
    inner = ', '.join(describe_field(f) for f in spec.fields)
    text = f'{spec.name} RECORD<{inner}>'
  else:
    text = f'{spec.name} {spec.type}'
  return text + (' REPEATED' if spec.mode == 'REPEATED' else '')


def sql_type(spec):
  if spec.type == 'RECORD':
    inner = ', '.join(f'`{f.name}` {sql_type(f)}' for f in spec.fields)
    base = f'STRUCT<{inner}>'
  else:
    base = spec.type
  return f'ARRAY<{base}>' if spec.mode == 'REPEATED' else base


def new_fields(obj, schema, prefix=''):
  """(top-level new field names, nested new field paths) of a decoded record."""
  top, nested = [], []
  by_lower = {f.name.lower(): f for f in schema.fields}
  for key, value in obj.items():
    spec = by_lower.get(key.lower())
    if spec is None:
      (top if not prefix else nested).append(prefix + key)
      continue
    if spec.type == 'RECORD' and value is not None:
      items = value if isinstance(value, list) else [value]
      for item in items:
        if isinstance(item, dict):
          sub_top, sub_nested = new_fields(item, TableSchema(fields=spec.fields),
                                           prefix + key + '.')
          nested.extend(p for p in sub_top + sub_nested if p not in nested)
  return top, nested
