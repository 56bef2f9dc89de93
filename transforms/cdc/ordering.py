"""The order of changes: a change's place in its source's history, as one sortable string.

A change's *order* is a tuple of components (source time, log position, tie-breakers), each
an ``int``, a ``str`` or ``None``, compared left to right. ``encode_order`` turns the tuple
into a text whose plain string order (byte order, which is how BigQuery compares STRING) is
the tuple's order, so the merge compares two changes with ``<`` on one column
(``_cdc_order``) whatever the source. Each component is self-delimiting:

==========  =============================================  =========================
component   encoding                                       sorts
==========  =============================================  =========================
``None``    ``0``                                          before everything
int < 0     ``1`` + 2-digit (99 - digit count) + 9's       before every int >= 0
            complement of the digits
int >= 0    ``2`` + 2-digit digit count + the digits       by magnitude
str         ``3`` + hex of the UTF-8 bytes + ``.``          bytewise, a prefix first
==========  =============================================  =========================

Components of different kinds still compare (``None`` < int < str), so orders of any shape
form one total order. ``describe_order`` gives the readable form kept beside it
(``_cdc_position``). The rules that build the tuple for each format are in
``beam_pipelines.transforms.cdc.formats`` (docs/cdc.md has them in one table).
"""

import hashlib

MAX_DIGITS = 99


def _encode_component(value):
  if value is None:
    return '0'
  if type(value) is int and 0 <= value < 10 ** MAX_DIGITS:  # pylint: disable=unidiomatic-typecheck
    digits = str(value)
    return f'2{len(digits):02d}{digits}'
  if isinstance(value, bool):
    raise ValueError(f'an order component must be an int, a str or None, got {value!r}')
  if isinstance(value, int):
    digits = str(abs(value))
    if len(digits) > MAX_DIGITS:
      raise ValueError(f'an order component has more than {MAX_DIGITS} digits')
    if value >= 0:
      return f'2{len(digits):02d}{digits}'
    complement = ''.join(chr(ord('9') - ord(d) + ord('0')) for d in digits)
    return f'1{MAX_DIGITS - len(digits):02d}{complement}'
  if isinstance(value, str):
    return '3' + value.encode('utf-8', errors='surrogatepass').hex() + '.'
  raise ValueError(f'an order component must be an int, a str or None, got '
                   f'{type(value).__name__}')


def encode_order(components):
  """A tuple of int/str/None -> its sortable text (see the module docstring).

  Raises ValueError for a component of another type (a float, a bool) or an int of more
  than 99 digits.
  """
  return ''.join(_encode_component(c) for c in components)


def describe_order(names, components):
  """The readable form of an order: ``{"name": value, ...}`` in order (the change log's
  ``_cdc_position``)."""
  return dict(zip(names, components, strict=True))


def change_id(key_json, order):
  """The identity of a change: its key and its order. Two records with the same key and the
  same full order are one change delivered twice (a redelivery)."""
  text = f'{key_json or ""}\x1f{order}'
  return hashlib.sha256(text.encode('utf-8', errors='surrogatepass')).hexdigest()[:32]


def as_int(value):
  """An int from an int or a decimal-digit string (Oracle SCNs arrive as text); else None."""
  if isinstance(value, bool):
    return None
  if isinstance(value, int):
    return value
  if isinstance(value, str):
    text = value.strip()
    if text.isdigit() or (text[:1] == '-' and text[1:].isdigit()):
      return int(text)
  return None


def parse_lsn(value):
  """A PostgreSQL log sequence number as an int: an int as is, ``'16/B374D848'`` (hex
  ``high/low``) as ``high << 32 | low``, a decimal string as its value; else None."""
  number = as_int(value)
  if number is not None:
    return number
  if isinstance(value, str) and value.count('/') == 1:
    high, low = value.strip().split('/')
    try:
      return (int(high, 16) << 32) | int(low, 16)
    except ValueError:
      return None
  return None


def finest_time_ns(obj, prefix='ts'):
  """Nanoseconds since the epoch from ``<prefix>_ns``, ``_us`` or ``_ms`` (the finest present
  as an int), or None."""
  if not isinstance(obj, dict):
    return None
  for suffix, factor in (('_ns', 1), ('_us', 1_000), ('_ms', 1_000_000)):
    value = obj.get(prefix + suffix)
    if value is None:
      continue
    value = value if type(value) is int else as_int(value)  # pylint: disable=unidiomatic-typecheck
    if value is not None:
      return value * factor
  return None
