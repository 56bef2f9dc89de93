"""``FieldError``: a value that does not fit its column, and the helpers converters share to
describe a value without quoting much of it.

``kind`` becomes the errorType prefix (``type_mismatch``, ``invalid_value``, ``out_of_range``,
``precision_exceeded``, ``non_finite``).
"""

class FieldError(Exception):
  """A value that does not fit its column. ``kind`` is the errorType prefix."""
  def __init__(self, kind, detail):
    super().__init__(detail)
    self.kind = kind
    self.detail = detail


def type_name(value):
  if value is None:
    return 'null'
  if isinstance(value, bool):
    return 'boolean'
  if isinstance(value, (int, float)):
    return 'number'
  if isinstance(value, str):
    return 'string'
  if isinstance(value, dict):
    return 'object'
  if isinstance(value, (list, tuple)):
    return 'array'
  return type(value).__name__


def mismatch(expected, value):
  return FieldError('type_mismatch', f'expected {expected}, got {type_name(value)}')


def preview(value, limit=40):
  text = repr(value)
  return text if len(text) <= limit else text[:limit] + '...'
