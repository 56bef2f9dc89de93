"""Scalar converters: one function per BigQuery type, value in, BigQuery JSON value out.

Each converter takes ``(value, spec, policy)`` and returns the value in the form BigQuery's
``insertAll`` and JSON load jobs accept (INT64 as int, NUMERIC as a decimal string, BYTES as
base64, TIMESTAMP as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, JSON as JSON text), or raises
``FieldError`` whose ``kind`` becomes the errorType prefix (``type_mismatch``,
``invalid_value``, ``out_of_range``, ``precision_exceeded``, ``non_finite``).

Rules that are choices, not BigQuery facts, are marked "choice" below and in the README.
"""

import base64
import binascii
import datetime
import decimal
import json
import math
import re

from transforms import wkt

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
_DATE = re.compile(r'^(\d{4})-(\d{1,2})-(\d{1,2})$')
_TIME = r'(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?'
_TIME_ONLY = re.compile('^' + _TIME + '$')
_DATETIME = re.compile(r'^(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ]' + _TIME + ')?$')
_TIMESTAMP = re.compile(
    r'^(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ]' + _TIME + r')?'
    r'\s*(Z|z|UTC|[+-]\d{1,2}(?::?\d{2})?)?$')
# Fast paths for the canonical forms (ASCII digits only; anything else takes the general
# path, so results are identical): 2026-11-01T00:00:03.000Z and 112.65.
_CANONICAL_TIMESTAMP = re.compile(
    r'([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?Z\Z')
_CANONICAL_DATETIME = re.compile(
    r'([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?\Z')
_CANONICAL_NUMERIC = re.compile(r'-?(?:0|[1-9][0-9]{0,28})(?:\.[0-9]{1,9})?\Z')
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
# BigQuery's TIMESTAMP range, as seconds since the epoch.
TIMESTAMP_MIN_SECONDS = -62135596800.0   # 0001-01-01 00:00:00 UTC
TIMESTAMP_MAX_SECONDS = 253402300799.999999  # 9999-12-31 23:59:59.999999 UTC
_TIMESTAMP_MIN_MICROS = -62135596800 * 1_000_000
_TIMESTAMP_MAX_MICROS = 253402300800 * 1_000_000 - 1


class FieldError(Exception):
  """A value that does not fit its column. ``kind`` is the errorType prefix."""
  def __init__(self, kind, detail):
    super().__init__(detail)
    self.kind = kind
    self.detail = detail


def _type_name(value):
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


def _mismatch(expected, value):
  return FieldError('type_mismatch', f'expected {expected}, got {_type_name(value)}')


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
    raise _mismatch('a string', value)
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
    raise _mismatch('base64 text', value)
  if spec.max_length is not None and len(raw) > spec.max_length:
    raise FieldError('out_of_range', f'{len(raw)} bytes exceed maxLength {spec.max_length}')
  return encoded


def to_int64(value, spec, policy):
  if isinstance(value, bool):
    raise _mismatch('an integer', value)
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
      raise FieldError('type_mismatch', f'{_preview(value)} is not an integer')
  else:
    raise _mismatch('an integer', value)
  if not INT64_MIN <= number <= INT64_MAX:
    raise FieldError('out_of_range', f'{_preview(number)} is outside the INT64 range')
  return number


def to_float64(value, spec, policy):
  if isinstance(value, bool):
    raise _mismatch('a number', value)
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
        raise FieldError('type_mismatch', f'{_preview(value)} is not a number') from None
    else:
      raise _mismatch('a number', value)
  else:
    raise _mismatch('a number', value)
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
    raise _mismatch('a decimal number', value)
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
      raise FieldError('type_mismatch', f'{_preview(value)} is not a decimal number') from None
    if not number.is_finite():
      raise FieldError('non_finite', f'{_preview(value)} is not a finite number')
    return number
  raise _mismatch('a decimal number', value)


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
  raise _mismatch('a boolean', value)


def _fraction_micros(text):
  # Digits past microseconds are truncated: BigQuery stores microseconds (choice: truncate
  # rather than reject nanosecond timestamps from Java producers).
  if not text:
    return 0
  return int((text + '000000')[:6])


def _make_datetime(year, month, day, hour=0, minute=0, second=0, micros=0):
  try:
    return datetime.datetime(year, month, day, hour, minute, second, micros)
  except ValueError as e:
    raise FieldError('invalid_value', f'not a real date/time: {e}') from None


def _date_text(moment):
  return f'{moment.year:04d}-{moment.month:02d}-{moment.day:02d}'


def _time_text(moment):
  return (f'{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}'
          f'.{moment.microsecond:06d}')


def to_timestamp(value, spec, policy):
  if isinstance(value, bool):
    raise _mismatch('a timestamp', value)
  if isinstance(value, (int, float)):
    # Numbers are seconds since the epoch, as in BigQuery's insertAll.
    # The range is checked on whole microseconds: as a float, TIMESTAMP_MAX_SECONDS rounds up
    # to 253402300800.0, which let that value through to an OverflowError.
    micros = (value * 1_000_000 if isinstance(value, int)
              else round(value * 1_000_000) if math.isfinite(value) and abs(value) < 1e15
              else None)
    if micros is None or not _TIMESTAMP_MIN_MICROS <= micros <= _TIMESTAMP_MAX_MICROS:
      raise FieldError('out_of_range', f'{value!r} seconds is outside the TIMESTAMP range')
    moment = _EPOCH + datetime.timedelta(microseconds=micros)
    return _date_text(moment) + 'T' + _time_text(moment) + 'Z'
  if not isinstance(value, str):
    raise _mismatch('a timestamp string', value)
  match = _CANONICAL_TIMESTAMP.match(value)
  if match:  # UTC, zero-padded: checked as a real date/time, the text reused
    year, month, day, hour, minute, second, frac = match.groups()
    micros = _fraction_micros(frac)
    _make_datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros)
    return f'{year}-{month}-{day}T{hour}:{minute}:{second}.{micros:06d}Z'
  match = _TIMESTAMP.match(value.strip())
  if not match:
    raise FieldError('invalid_value', f'{_preview(value)} is not a BigQuery TIMESTAMP '
                     '(YYYY-MM-DD[ HH:MM[:SS[.ffffff]]][Z|UTC|+HH:MM])')
  year, month, day, hour, minute, second, frac, zone = match.groups()
  moment = _make_datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                          int(second or 0), _fraction_micros(frac))
  offset = _zone_offset(zone)
  try:
    moment = moment - offset
  except OverflowError:
    raise FieldError('out_of_range', f'{_preview(value)} is outside the TIMESTAMP range') \
        from None
  return _date_text(moment) + 'T' + _time_text(moment) + 'Z'


def _zone_offset(zone):
  if not zone or zone in ('Z', 'z', 'UTC'):
    return datetime.timedelta(0)
  sign = -1 if zone[0] == '-' else 1
  digits = zone[1:].replace(':', '')
  hours, minutes = (digits[:-2], digits[-2:]) if len(digits) > 2 else (digits, '0')
  hours, minutes = int(hours), int(minutes)
  if hours > 14 or minutes > 59:
    raise FieldError('invalid_value', f'time zone offset {zone!r} is not valid')
  return sign * datetime.timedelta(hours=hours, minutes=minutes)


def to_date(value, spec, policy):
  if not isinstance(value, str):
    raise _mismatch('a date string', value)
  match = _DATE.match(value.strip())
  if not match:
    raise FieldError('invalid_value', f'{_preview(value)} is not a DATE (YYYY-MM-DD)')
  year, month, day = (int(g) for g in match.groups())
  return _date_text(_make_datetime(year, month, day))


def to_time(value, spec, policy):
  if not isinstance(value, str):
    raise _mismatch('a time string', value)
  match = _TIME_ONLY.match(value.strip())
  if not match:
    raise FieldError('invalid_value', f'{_preview(value)} is not a TIME (HH:MM[:SS[.ffffff]])')
  hour, minute, second, frac = match.groups()
  moment = _make_datetime(2000, 1, 1, int(hour), int(minute), int(second or 0),
                          _fraction_micros(frac))
  return _time_text(moment)


def to_datetime(value, spec, policy):
  if not isinstance(value, str):
    raise _mismatch('a datetime string', value)
  match = _CANONICAL_DATETIME.match(value)
  if match:  # zero-padded: checked as a real date/time, the text reused
    year, month, day, hour, minute, second, frac = match.groups()
    micros = _fraction_micros(frac)
    _make_datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros)
    return f'{year}-{month}-{day}T{hour}:{minute}:{second}.{micros:06d}'
  match = _DATETIME.match(value.strip())
  if not match:
    raise FieldError('invalid_value', f'{_preview(value)} is not a DATETIME '
                     '(YYYY-MM-DD[ HH:MM[:SS[.ffffff]]], no time zone)')
  year, month, day, hour, minute, second, frac = match.groups()
  moment = _make_datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                          int(second or 0), _fraction_micros(frac))
  return _date_text(moment) + 'T' + _time_text(moment)


def to_geography(value, spec, policy):
  if not isinstance(value, str):
    raise _mismatch('a WKT string', value)
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
    'GEOGRAPHY': to_geography, 'JSON': to_json,
}


def _preview(value, limit=40):
  text = repr(value)
  return text if len(text) <= limit else text[:limit] + '...'
