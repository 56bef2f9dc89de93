"""Converters for BigQuery's RANGE<DATE|DATETIME|TIMESTAMP> and INTERVAL types.

Each takes ``(value, spec, policy)`` and returns the value in the JSON form BigQuery's
``insertAll`` accepts (the form google-cloud-bigquery's ``insert_rows`` sends), or raises
``FieldError``:

- RANGE: ``{"start": S, "end": E}`` with S and E in their element type's canonical JSON form
  (``beam_pipelines.transforms.validate.bq_temporal``) or null for an unbounded end. Accepted
  input: that object (a missing key is unbounded; any other key is rejected), or the range
  literal BigQuery itself prints, ``[S, E)`` (optionally prefixed ``RANGE<DATE> ``;
  ``UNBOUNDED`` or ``NULL`` for an unbounded end). When both ends are bounded, S must be
  earlier than E (BigQuery refuses an empty or reversed range).
- INTERVAL: the canonical text ``[-]Y-M [-]D [-]H:M:S[.F]`` (``1-2 3 4:5:6.789``). Accepted
  input: that form (parts not normalised, e.g. ``0-13 370 48:61:61``) or an ISO 8601
  duration (``P1Y2M3DT4H5M6.789S``, each part optionally signed, ``W`` = 7 days). The value
  must lie within BigQuery's range: at most 10000 years (120000 months), 3660000 days and
  87840000 hours (with minutes and seconds) in either direction. Digits past microseconds are
  truncated, as for TIMESTAMP (choice).
"""

import json
import re

from beam_pipelines.transforms.validate.bq_temporal import to_date, to_datetime, to_timestamp
from beam_pipelines.transforms.validate.field_error import FieldError, mismatch, preview

_ELEMENT_CONVERTERS = {'DATE': to_date, 'DATETIME': to_datetime, 'TIMESTAMP': to_timestamp}
_RANGE_LITERAL = re.compile(
    r'^\s*(?:RANGE\s*<\s*(?P<type>[A-Za-z]+)\s*>\s*)?\[\s*(?P<start>[^,\[\]()]*?)\s*,'
    r'\s*(?P<end>[^,\[\]()]*?)\s*\)\s*$', re.IGNORECASE)
_UNBOUNDED = ('UNBOUNDED', 'NULL')

MAX_MONTHS = 10000 * 12
MAX_DAYS = 3660000
MAX_MICROS = 87840000 * 3600 * 1_000_000
_CANONICAL_INTERVAL = re.compile(
    r'^\s*(?P<ym_sign>[+-]?)(?P<years>\d+)-(?P<months>\d+)\s+(?P<days>[+-]?\d+)\s+'
    r'(?P<t_sign>[+-]?)(?P<hours>\d+):(?P<minutes>\d+):(?P<seconds>\d+)'
    r'(?:\.(?P<fraction>\d{1,9}))?\s*$')
_ISO_INTERVAL = re.compile(
    r'^\s*(?P<sign>[+-]?)P(?!\s*$)(?:(?P<years>[+-]?\d+)Y)?(?:(?P<months>[+-]?\d+)M)?'
    r'(?:(?P<weeks>[+-]?\d+)W)?(?:(?P<days>[+-]?\d+)D)?'
    r'(?:T(?=[+-]?\d)(?:(?P<hours>[+-]?\d+)H)?(?:(?P<minutes>[+-]?\d+)M)?'
    r'(?:(?P<seconds>[+-]?\d+)(?:[.,](?P<fraction>\d{1,9}))?S)?)?\s*$', re.IGNORECASE)


def to_range(value, spec, policy):
  element = spec.range_element_type
  if isinstance(value, dict):
    unknown = sorted(k for k in value if k not in ('start', 'end'))
    if unknown:
      raise FieldError('invalid_value', f'a RANGE object has only "start" and "end", not '
                       f'{preview(unknown[0])}')
    start, end = value.get('start'), value.get('end')
  elif isinstance(value, str):
    text = value
    if policy.text_input and text.lstrip().startswith('{'):
      try:  # a CSV cell may carry the JSON object form (choice)
        return to_range(json.loads(text), spec, policy)
      except ValueError:
        raise FieldError('invalid_value', f'{preview(value)} is not a RANGE object') from None
    match = _RANGE_LITERAL.match(text)
    if not match:
      raise FieldError('invalid_value', f'{preview(value)} is not a RANGE<{element}> '
                       '(an object with start/end, or [start, end))')
    if match.group('type') and match.group('type').upper() != element:
      raise FieldError('type_mismatch', f'a RANGE<{match.group("type").upper()}> literal '
                       f'in a RANGE<{element}> column')
    start, end = match.group('start'), match.group('end')
    start = None if start.upper() in _UNBOUNDED else start
    end = None if end.upper() in _UNBOUNDED else end
  else:
    raise mismatch(f'a RANGE<{element}> (object or [start, end) text)', value)
  convert = _ELEMENT_CONVERTERS[element]
  out = {}
  for name, bound in (('start', start), ('end', end)):
    if bound is None:
      out[name] = None
      continue
    try:
      out[name] = convert(bound, spec, policy)
    except FieldError as e:
      raise FieldError(e.kind, f'range {name}: {e.detail}') from None
  if out['start'] is not None and out['end'] is not None and out['start'] >= out['end']:
    # The canonical forms (zero-padded, TIMESTAMP in UTC) order like the values they name.
    raise FieldError('invalid_value', f'range start {out["start"]} is not before its end '
                     f'{out["end"]}')
  return out


def _micros(seconds, fraction):
  return int(seconds) * 1_000_000 + int(((fraction or '') + '000000')[:6])


def _parse_interval(text):
  """(months, days, micros) of an interval text, or None when it is not one."""
  match = _CANONICAL_INTERVAL.match(text)
  if match:
    g = match.groupdict()
    months = int(g['years']) * 12 + int(g['months'])
    micros = (int(g['hours']) * 3600 + int(g['minutes']) * 60) * 1_000_000 + _micros(
        g['seconds'], g['fraction'])
    return (-months if g['ym_sign'] == '-' else months, int(g['days']),
            -micros if g['t_sign'] == '-' else micros)
  match = _ISO_INTERVAL.match(text)
  if not match:
    return None
  g = {k: v for k, v in match.groupdict().items() if v is not None}
  months = int(g.get('years', 0)) * 12 + int(g.get('months', 0))
  days = int(g.get('weeks', 0)) * 7 + int(g.get('days', 0))
  seconds = g.get('seconds', '0')
  micros = _micros(seconds.lstrip('+-'), g.get('fraction'))
  micros = (-micros if seconds.startswith('-') else micros) + (
      int(g.get('hours', 0)) * 3600 + int(g.get('minutes', 0)) * 60) * 1_000_000
  sign = -1 if g.get('sign') == '-' else 1
  return sign * months, sign * days, sign * micros


def interval_text(months, days, micros):
  """The canonical text of an interval given as (months, days, microseconds)."""
  ym_sign, months = ('-', -months) if months < 0 else ('', months)
  t_sign, micros = ('-', -micros) if micros < 0 else ('', micros)
  seconds, fraction = divmod(micros, 1_000_000)
  minutes, seconds = divmod(seconds, 60)
  hours, minutes = divmod(minutes, 60)
  text = (f'{ym_sign}{months // 12}-{months % 12} {days} '
          f'{t_sign}{hours}:{minutes}:{seconds}')
  return text + (f'.{fraction:06d}'.rstrip('0') if fraction else '')


def to_interval(value, spec, policy):
  if not isinstance(value, str):
    raise mismatch('an INTERVAL text (Y-M D H:M:S[.F] or ISO 8601 P...)', value)
  parts = _parse_interval(value)
  if parts is None:
    raise FieldError('invalid_value', f'{preview(value)} is not an INTERVAL '
                     '(Y-M D H:M:S[.F], or ISO 8601 like P1Y2M3DT4H5M6S)')
  months, days, micros = parts
  if abs(months) > MAX_MONTHS or abs(days) > MAX_DAYS or abs(micros) > MAX_MICROS:
    raise FieldError('out_of_range', f'{preview(value)} is outside the INTERVAL range '
                     '(10000 years, 3660000 days, 87840000 hours either way)')
  return interval_text(months, days, micros)
