"""Converters for BigQuery's time types: TIMESTAMP, DATE, TIME and DATETIME.

Each takes ``(value, spec, policy)`` and returns the value in the JSON form BigQuery's
``insertAll`` and JSON load jobs accept (TIMESTAMP as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC,
DATE ``YYYY-MM-DD``, TIME ``HH:MM:SS.ffffff``, DATETIME ``YYYY-MM-DDTHH:MM:SS.ffffff``), or
raises ``FieldError``. TIMESTAMP also takes epoch seconds (a number); the supported range is
BigQuery's, 0001-01-01 to 9999-12-31.

Rules that are choices, not BigQuery facts, are marked "choice" below and in the docs.
"""

import datetime
import math
import re

from beam_pipelines.transforms.validate.field_error import FieldError, mismatch, preview

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
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
# BigQuery's TIMESTAMP range, as seconds since the epoch.
TIMESTAMP_MIN_SECONDS = -62135596800.0   # 0001-01-01 00:00:00 UTC
TIMESTAMP_MAX_SECONDS = 253402300799.999999  # 9999-12-31 23:59:59.999999 UTC
_TIMESTAMP_MIN_MICROS = -62135596800 * 1_000_000
_TIMESTAMP_MAX_MICROS = 253402300800 * 1_000_000 - 1


def fraction_micros(text):
  # Digits past microseconds are truncated: BigQuery stores microseconds (choice: truncate
  # rather than reject nanosecond timestamps from Java producers).
  if not text:
    return 0
  return int((text + '000000')[:6])


def make_datetime(year, month, day, hour=0, minute=0, second=0, micros=0):
  try:
    return datetime.datetime(year, month, day, hour, minute, second, micros)
  except ValueError as e:
    raise FieldError('invalid_value', f'not a real date/time: {e}') from None


def date_text(moment):
  return f'{moment.year:04d}-{moment.month:02d}-{moment.day:02d}'


def time_text(moment):
  return (f'{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}'
          f'.{moment.microsecond:06d}')


def to_timestamp(value, spec, policy):
  if isinstance(value, bool):
    raise mismatch('a timestamp', value)
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
    return date_text(moment) + 'T' + time_text(moment) + 'Z'
  if not isinstance(value, str):
    raise mismatch('a timestamp string', value)
  match = _CANONICAL_TIMESTAMP.match(value)
  if match:  # UTC, zero-padded: checked as a real date/time, the text reused
    year, month, day, hour, minute, second, frac = match.groups()
    micros = fraction_micros(frac)
    make_datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros)
    return f'{year}-{month}-{day}T{hour}:{minute}:{second}.{micros:06d}Z'
  match = _TIMESTAMP.match(value.strip())
  if not match:
    raise FieldError('invalid_value', f'{preview(value)} is not a BigQuery TIMESTAMP '
                     '(YYYY-MM-DD[ HH:MM[:SS[.ffffff]]][Z|UTC|+HH:MM])')
  year, month, day, hour, minute, second, frac, zone = match.groups()
  moment = make_datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                          int(second or 0), fraction_micros(frac))
  offset = _zone_offset(zone)
  try:
    moment = moment - offset
  except OverflowError:
    raise FieldError('out_of_range', f'{preview(value)} is outside the TIMESTAMP range') \
        from None
  return date_text(moment) + 'T' + time_text(moment) + 'Z'


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
    raise mismatch('a date string', value)
  match = _DATE.match(value.strip())
  if not match:
    raise FieldError('invalid_value', f'{preview(value)} is not a DATE (YYYY-MM-DD)')
  year, month, day = (int(g) for g in match.groups())
  return date_text(make_datetime(year, month, day))


def to_time(value, spec, policy):
  if not isinstance(value, str):
    raise mismatch('a time string', value)
  match = _TIME_ONLY.match(value.strip())
  if not match:
    raise FieldError('invalid_value', f'{preview(value)} is not a TIME (HH:MM[:SS[.ffffff]])')
  hour, minute, second, frac = match.groups()
  moment = make_datetime(2000, 1, 1, int(hour), int(minute), int(second or 0),
                          fraction_micros(frac))
  return time_text(moment)


def to_datetime(value, spec, policy):
  if not isinstance(value, str):
    raise mismatch('a datetime string', value)
  match = _CANONICAL_DATETIME.match(value)
  if match:  # zero-padded: checked as a real date/time, the text reused
    year, month, day, hour, minute, second, frac = match.groups()
    micros = fraction_micros(frac)
    make_datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros)
    return f'{year}-{month}-{day}T{hour}:{minute}:{second}.{micros:06d}'
  match = _DATETIME.match(value.strip())
  if not match:
    raise FieldError('invalid_value', f'{preview(value)} is not a DATETIME '
                     '(YYYY-MM-DD[ HH:MM[:SS[.ffffff]]], no time zone)')
  year, month, day, hour, minute, second, frac = match.groups()
  moment = make_datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                          int(second or 0), fraction_micros(frac))
  return date_text(moment) + 'T' + time_text(moment)
