"""Helpers shared by the masking strategies: canonical text of a value, the redaction token."""

import json

REDACTED = '[REDACTED]'
NUMERIC_TYPES = ('INT64', 'FLOAT64', 'NUMERIC', 'BIGNUMERIC')
DATE_TYPES = ('DATE', 'DATETIME', 'TIMESTAMP')


def canonical_text(value):
  """The text a keyed method hashes: stable across runs, processes and Python versions.

  Strings are hashed as they are, booleans as ``true``/``false``, integers in decimal,
  floats by ``repr`` and anything else (JSON values in dead letters) as compact sorted JSON.
  Validated rows carry NUMERIC/TIMESTAMP/DATE as canonical strings already, so the same value
  always gives the same pseudonym.
  """
  if isinstance(value, str):
    return value
  if isinstance(value, bool):
    return 'true' if value else 'false'
  if isinstance(value, int):
    return str(value)
  if isinstance(value, float):
    return repr(value)
  if isinstance(value, (bytes, bytearray)):
    return bytes(value).decode('utf-8', errors='replace')
  return json.dumps(value, sort_keys=True, separators=(',', ':'), ensure_ascii=False,
                    default=str)


def check_params(params, allowed, path, method):
  """ValueError naming the first parameter the method does not know."""
  for name in params:
    if name not in allowed:
      raise ValueError(f'{path}: unknown parameter {name!r} for method {method} '
                       f'(allowed: {sorted(allowed) or "none"})')


def int_param(params, name, path, default, minimum, maximum):
  value = params.get(name, default)
  if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
    raise ValueError(f'{path}: parameter {name} must be an integer in [{minimum}, {maximum}], '
                     f'got {value!r}')
  return value


def str_param(params, name, path, default, allow_none=False):
  value = params.get(name, default)
  if value is None and allow_none:
    return None
  if not isinstance(value, str):
    raise ValueError(f'{path}: parameter {name} must be a string, got {value!r}')
  return value
