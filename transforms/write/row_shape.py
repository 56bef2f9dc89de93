"""Rows checked against the table schema's shape just before a sink: fields it lacks.

``ParseAndValidate`` drops or dead-letters fields the schema lacks, but rows can gain fields
later (a user function, a step of your own). BigQuery would reject such a row with an error
that names no record (FILE_LOADS fails the whole load; the local emulator accepts it
silently). ``unknown_fields_checker(schema)`` finds them first, so the sink turns the row into
a dead letter (errorType ``unknown_field``) with its source id, the same everywhere. It also
lets the BigQuery sink send rows with their source id key and tell BigQuery to ignore it:
no other unknown field can reach the table.
"""

from beam_pipelines.transforms.core.messages import SOURCE_ID_KEY


def unknown_fields_checker(schema):
  """A function: row -> the dotted paths of its fields the schema lacks (the source id key
  and None values aside), in order; an empty list for a row of the schema's shape."""
  return _record_checker(schema.fields, prefix='', top=True)


def _record_checker(fields, prefix, top=False):
  known = {f.name: f for f in fields}
  nested = {f.name: (_record_checker(f.fields, f'{prefix}{f.name}.'), f.repeated)
            for f in fields if f.type == 'RECORD'}

  def check(row):
    unknown = [f'{prefix}{k}' for k in row if k not in known and not (top and
                                                                     k == SOURCE_ID_KEY)]
    for name, (inner, repeated) in nested.items():
      value = row.get(name)
      if value is None:
        continue
      for item in (value if repeated and isinstance(value, list) else [value]):
        if isinstance(item, dict):
          unknown += inner(item)
    return unknown
  return check
