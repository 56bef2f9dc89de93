"""Converters: one function per BigQuery type, value in, BigQuery JSON value out.

Each converter takes ``(value, spec, policy)`` and returns the value in the form BigQuery's
``insertAll`` and JSON load jobs accept (INT64 as int, NUMERIC as a decimal string, BYTES as
base64, TIMESTAMP as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, JSON as JSON text), or raises
``FieldError`` whose ``kind`` becomes the errorType prefix (``type_mismatch``,
``invalid_value``, ``out_of_range``, ``precision_exceeded``, ``non_finite``).

The time types are in ``beam_pipelines.transforms.validate.bq_temporal``, RANGE and INTERVAL in
``beam_pipelines.transforms.validate.bq_range_interval``; ``CONVERTERS`` maps every type name
to its converter. Rules that are choices, not BigQuery facts, are marked "choice" below
and in the docs.
"""

import base64
import binascii
import decimal
import json
import math
import re

from beam_pipelines.transforms.validate import geography as wkt
from beam_pipelines.transforms.validate.bq_range_interval import to_interval, to_range
from beam_pipelines.transforms.validate.bq_temporal import to_date, to_datetime, to_time, to_timestamp
from beam_pipelines.transforms.validate.field_error import FieldError, mismatch, preview

INT64_MIN = -(2 ** 63)
INT64_MAX = 2 ** 63 - 1
NUMERIC_MAX = decimal.Decimal('99999999999999999999999999999.999999999')
BIGNUMERIC_MAX = decimal.Decimal(
    '578960446186580977117854925043439539266.34992332820282019728792003956564819967')
BIGNUMERIC_MIN = decimal.Decimal(
    '-578960446186580977117854925043439539266.34992332820282019728792003956564819968')
_DECIMAL_CONTEXT = decimal.Context(prec=200, Emax=1000, Emin=-1000)
_NON_FINITE_TEXT = {'nan': 'NaN', 'inf': 'Infinity', '+inf': 'Infinity',
                    'infinity': 'Infinity', '+infinity': 'Infinity',
                    '-inf': '-Infinity', '-infinity': '-Infinity'}
_TRUE_TEXT = ('true', '1')
_FALSE_TEXT = ('false', '0')
_INT_TEXT = re.compile(r'^[+-]?\d+$')
_HEX_INT_TEXT = re.compile(r'^[+-]?0[xX][0-9a-fA-F]+$')
_CANONICAL_NUMERIC = re.compile(r'-?(?:0|[1-9][0-9]{0,28})(?:\.[0-9]{1,9})?\Z')


def _check_utf8(text):
  # JSON may carry lone surrogates ("\ud800") that cannot be stored as UTF-8.
  if not text.isascii():
    try:
      text.encode('utf-8')
    except UnicodeEncodeError:
      raise FieldError('invalid_value', 'string is not valid Unicode (lone surrogate)') from None
  return text


def to_string(value, spec, policy):
  if isinstance(value, str):
    text = _check_utf8(value)
  elif policy.coerce and isinstance(value, bool):
    text = 'true' if value else 'false'
  elif policy.coerce and isinstance(value, (int, float)) and not isinstance(value, bool):
    if isinstance(value, float) and not math.isfinite(value):
      raise FieldError('non_finite', f'{value} cannot become a string without loss')
    text = repr(value) if isinstance(value, float) else str(value)
  else:
    raise mismatch('a string', value)
  if spec.max_length is not None and len(text) > spec.max_length:
    raise FieldError('out_of_range', f'string of {len(text)} characters exceeds maxLength '
                     f'{spec.max_length}')
  return text


def to_bytes(value, spec, policy):
  if isinstance(value, (bytes, bytearray)):
    raw = bytes(value)
    encoded = base64.b64encode(raw).decode('ascii')
  elif isinstance(value, str):
    try:
      raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
      raise FieldError('invalid_value', 'not valid standard base64') from None
    encoded = value
  else:
    raise mismatch('base64 text', value)
  if spec.max_length is not None and len(raw) > spec.max_length:
    raise FieldError('out_of_range', f'{len(raw)} bytes exceed maxLength {spec.max_length}')
  return encoded


def to_int64(value, spec, policy):
  if isinstance(value, bool):
    raise mismatch('an integer', value)
  if isinstance(value, int):
    number = value
  elif isinstance(value, float) and value.is_integer() and abs(value) >= 2 ** 63:
    # A JSON integer beyond 64 bits arrives as a float from the fast parser.
    raise FieldError('out_of_range', f'{value:.0f} is outside the INT64 range')
  elif isinstance(value, float) and policy.coerce:
    if not math.isfinite(value) or value != int(value):
      raise FieldError('type_mismatch', f'{value!r} is not a whole number')
    number = int(value)
  elif isinstance(value, str) and policy.coerce:
    text = value.strip()
    if _INT_TEXT.match(text):
      number = int(text)
    elif _HEX_INT_TEXT.match(text):
      number = int(text, 16)
    else:
      raise FieldError('type_mismatch', f'{preview(value)} is not an integer')
  else:
    raise mismatch('an integer', value)
  if not INT64_MIN <= number <= INT64_MAX:
    raise FieldError('out_of_range', f'{preview(number)} is outside the INT64 range')
  return number


def to_float64(value, spec, policy):
  if isinstance(value, bool):
    raise mismatch('a number', value)
  if isinstance(value, float):
    number = value
  elif isinstance(value, int):
    try:
      number = float(value)
    except OverflowError:
      raise FieldError('out_of_range', 'integer too large for FLOAT64') from None
  elif isinstance(value, str):
    key = value.strip().lower()
    if key in _NON_FINITE_TEXT:  # BigQuery's own JSON spelling of non-finite floats
      number = float(_NON_FINITE_TEXT[key].replace('Infinity', 'inf'))
    elif policy.coerce:
      try:
        number = float(value)
      except ValueError:
        raise FieldError('type_mismatch', f'{preview(value)} is not a number') from None
    else:
      raise mismatch('a number', value)
  else:
    raise mismatch('a number', value)
  if math.isfinite(number):
    return number
  if policy.non_finite_floats == 'allow':
    return 'NaN' if math.isnan(number) else ('Infinity' if number > 0 else '-Infinity')
  if policy.non_finite_floats == 'null' and not spec.required:
    return None
  raise FieldError('non_finite', f'{number} is not a finite number '
                   f'(non_finite_floats={policy.non_finite_floats})')


def _to_decimal(value, policy):
  if isinstance(value, bool):
    raise mismatch('a decimal number', value)
  if isinstance(value, int):
    return decimal.Decimal(value)
  if isinstance(value, float):
    if not math.isfinite(value):
      raise FieldError('non_finite', f'{value} is not a finite number')
    return decimal.Decimal(repr(value))  # repr, not the binary expansion of the float
  if isinstance(value, str):
    # BigQuery's JSON form of NUMERIC is a string, so strings need no coercion (choice).
    try:
      number = decimal.Decimal(value.strip(), context=_DECIMAL_CONTEXT)
    except (decimal.InvalidOperation, ValueError):
      raise FieldError('type_mismatch', f'{preview(value)} is not a decimal number') from None
    if not number.is_finite():
      raise FieldError('non_finite', f'{preview(value)} is not a finite number')
    return number
  raise mismatch('a decimal number', value)


def _check_decimal(number, max_integer_digits, max_scale, type_name):
  exponent = number.as_tuple().exponent
  scale = max(0, -exponent)
  if scale > max_scale:
    # Trailing zeros carry no information: 1.500000000000 fits NUMERIC.
    reduced = number.normalize(context=_DECIMAL_CONTEXT)
    scale = max(0, -reduced.as_tuple().exponent)
    if scale > max_scale:
      raise FieldError('precision_exceeded',
                       f'{scale} fractional digits exceed the scale {max_scale} of {type_name}')
    number = reduced
  integer_digits = max(0, number.adjusted() + 1) if number != 0 else 0
  if integer_digits > max_integer_digits:
    raise FieldError('out_of_range',
                     f'{integer_digits} integer digits exceed {type_name} '
                     f'({max_integer_digits} allowed)')
  return number


def to_numeric(value, spec, policy):
  if (spec.precision is None and isinstance(value, str) and _CANONICAL_NUMERIC.match(value)
      and not value.startswith('-0')):
    return value  # <= 29 integer and <= 9 fractional digits, no leading zeros: as is
  number = _to_decimal(value, policy)
  if spec.precision is not None:  # parameterised NUMERIC(P[, S])
    scale = spec.scale or 0
    number = _check_decimal(number, spec.precision - scale, scale, f'NUMERIC({spec.precision},'
                            f'{scale})')
  else:
    number = _check_decimal(number, 29, 9, 'NUMERIC')
    if number.copy_abs() > NUMERIC_MAX:
      raise FieldError('out_of_range', 'outside the NUMERIC range')
  return _decimal_text(number)


def to_bignumeric(value, spec, policy):
  number = _to_decimal(value, policy)
  if spec.precision is not None:
    scale = spec.scale or 0
    number = _check_decimal(number, spec.precision - scale, scale,
                            f'BIGNUMERIC({spec.precision},{scale})')
  else:
    number = _check_decimal(number, 39, 38, 'BIGNUMERIC')
    if not BIGNUMERIC_MIN <= number <= BIGNUMERIC_MAX:
      raise FieldError('out_of_range', 'outside the BIGNUMERIC range')
  return _decimal_text(number)


def _decimal_text(number):
  text = format(number, 'f')
  return '0' if text in ('-0', '0', '-0.0') else text


def to_bool(value, spec, policy):
  if isinstance(value, bool):
    return value
  if policy.coerce:
    if isinstance(value, str):
      key = value.strip().lower()
      if key in _TRUE_TEXT:
        return True
      if key in _FALSE_TEXT:
        return False
    if isinstance(value, int) and value in (0, 1):
      return bool(value)
  raise mismatch('a boolean', value)


def to_geography(value, spec, policy):
  if not isinstance(value, str):
    raise mismatch('a WKT string', value)
  problem = wkt.problem(value)
  if problem:
    raise FieldError('invalid_value', f'not valid WKT: {problem}')
  return value


# One encoder for every value: json.dumps with these options builds a new one per call.
_JSON_TEXT = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(',', ':'))


def to_json(value, spec, policy):
  # The field's value *is* the JSON value (an object, array, string, number...); it is
  # stored as JSON text. Text input (CSV) carries JSON text and is parsed first (choice).
  if policy.text_input and isinstance(value, str):
    try:
      value = json.loads(value)
    except ValueError:
      raise FieldError('invalid_value', 'not valid JSON text') from None
    except RecursionError:
      raise FieldError('invalid_value', 'JSON nested too deeply') from None
  try:
    return _JSON_TEXT.encode(value)
  except ValueError:
    raise FieldError('non_finite', 'JSON value contains NaN or Infinity') from None
  except RecursionError:
    raise FieldError('invalid_value', 'JSON value nested too deeply') from None
  except TypeError as e:
    raise FieldError('type_mismatch', f'not representable as JSON: {e}') from None
  except UnicodeEncodeError:
    raise FieldError('invalid_value', 'JSON value contains a lone surrogate') from None


CONVERTERS = {
    'STRING': to_string, 'BYTES': to_bytes, 'INT64': to_int64, 'FLOAT64': to_float64,
    'NUMERIC': to_numeric, 'BIGNUMERIC': to_bignumeric, 'BOOL': to_bool,
    'TIMESTAMP': to_timestamp, 'DATE': to_date, 'TIME': to_time, 'DATETIME': to_datetime,
    'GEOGRAPHY': to_geography, 'JSON': to_json, 'INTERVAL': to_interval, 'RANGE': to_range,
}
