"""redact: the value is replaced by a fixed string (default ``[REDACTED]``) or by NULL.

Parameters: ``replacement`` (string, default ``[REDACTED]``; ``null`` keeps the column's
type and makes it NULLABLE; not allowed on REPEATED fields, which cannot hold NULL).
Output type: STRING for a string replacement. A NULL input stays NULL (presence is kept).
"""

import dataclasses

from beam_pipelines.transforms.masking.methods.common import REDACTED, check_params, str_param

NAME = 'redact'
KEYED = False


def validate(params, spec, path):
  check_params(params, ('replacement',), path, NAME)
  replacement = str_param(params, 'replacement', path, REDACTED, allow_none=True)
  if replacement is None and spec.repeated:
    raise ValueError(f'{path}: redact with replacement null is not possible on a REPEATED '
                     'field (BigQuery arrays cannot hold NULL); use drop')
  if spec.type == 'RECORD':
    raise ValueError(f'{path}: redact cannot apply to a RECORD; use drop or name its fields')
  return {'replacement': replacement}


def output_field(spec, params):
  if params['replacement'] is None:
    mode = 'NULLABLE' if spec.required else spec.mode
    return dataclasses.replace(spec, mode=mode, description='redacted (NULL)')
  return dataclasses.replace(spec, type='STRING', fields=(), max_length=None, precision=None,
                             scale=None, description='redacted')


def compile(spec, params, keys):  # pylint: disable=redefined-builtin
  replacement = params['replacement']
  return lambda value: replacement
