"""Row-level rule checks: one small function per kind, compiled once per rule.

``compile_rule(rule)`` returns ``check(row, event_time, now) -> (checked, failure)``:
``checked`` is how many values the rule looked at for this row (0 = not applicable, e.g. a
null value for ``range``), ``failure`` is None or a short reason. Semantics:

- ``not_null``: fails when the path yields no value or any null (through arrays: every
  element must have a non-null value; an empty array yields no value and fails).
- ``range`` / ``regex`` / ``allowed_values``: null values are skipped (that is
  ``not_null``'s job); every non-null value must pass. ``range`` compares numbers exactly
  (NUMERIC strings included); a value that is not a number fails. ``regex`` must match the
  whole text (``re.fullmatch``; numbers and booleans are matched as their JSON text).
  ``allowed_values`` compares by value and type (``1`` does not match ``true``).
- ``freshness``: lag = processing time - event time (the ``path`` TIMESTAMP, else the
  element's timestamp); fails when lag > ``max_delay_seconds`` or, with
  ``max_future_seconds``, when the event is further in the future than that. Rows without
  an event time are not checked.
- ``unique``: not here (it needs state per window): see ``beam_pipelines.transforms.quality.uniqueness``.
"""

import datetime
import json
import re
from decimal import Decimal, InvalidOperation


def values_at(record, path):
  """Every value at a dotted path; arrays on the way are flattened. Missing -> []."""
  current = [record]
  for part in path.split('.'):
    nxt = []
    for value in current:
      if isinstance(value, list):
        value_items = value
      else:
        value_items = [value]
      for item in value_items:
        if isinstance(item, dict) and part in item:
          nxt.append(item[part])
    current = nxt
  out = []
  for value in current:
    if isinstance(value, list):
      out.extend(value)
    else:
      out.append(value)
  return out


# Event times a TIMESTAMP can hold (years 1 to 9999). An element of a batch run often carries
# the global window's end (year 294247) or its start: no event time.
FIRST_EVENT_TIME, LAST_EVENT_TIME = -62135596800.0, 253402300799.0


def is_event_time(seconds):
  """True for seconds since the epoch that a BigQuery TIMESTAMP can hold."""
  return seconds is not None and FIRST_EVENT_TIME <= seconds <= LAST_EVENT_TIME


def parse_timestamp(value):
  """Seconds since the epoch from a TIMESTAMP value (BigQuery JSON text or a number)."""
  if value is None or isinstance(value, bool):
    return None
  if isinstance(value, (int, float)):
    return float(value)
  if isinstance(value, str):
    text = value.strip().replace(' ', 'T', 1)
    if text.endswith('Z'):
      text = text[:-1] + '+00:00'
    elif text.upper().endswith('UTC'):
      text = text[:-3].rstrip() + '+00:00'
    try:
      moment = datetime.datetime.fromisoformat(text)
    except ValueError:
      return None
    if moment.tzinfo is None:
      moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()
  return None


def _not_null(rule):
  path = rule.path

  def check(row, event_time, now):
    values = values_at(row, path)
    if not values:
      return 1, f'{path} is missing'
    if any(v is None for v in values):
      return 1, f'{path} is null'
    return 1, None
  return check


def _as_decimal(value):
  if isinstance(value, bool):
    return None
  if isinstance(value, (int, float, Decimal)):
    try:
      number = Decimal(str(value))
    except InvalidOperation:
      return None
    return number if number.is_finite() else None
  if isinstance(value, str):
    try:
      number = Decimal(value.strip())
    except InvalidOperation:
      return None
    return number if number.is_finite() else None
  return None


def _range(rule):
  path, low, high = rule.path, rule.min, rule.max
  low_in, high_in = rule.min_inclusive, rule.max_inclusive

  def check(row, event_time, now):
    checked = 0
    for value in values_at(row, path):
      if value is None:
        continue
      checked += 1
      number = _as_decimal(value)
      if number is None:
        return checked, f'{path}: {value!r} is not a number'
      if low is not None and (number < low or (number == low and not low_in)):
        return checked, f'{path}: {value} is below {"" if low_in else "or equal to "}{low}'
      if high is not None and (number > high or (number == high and not high_in)):
        return checked, f'{path}: {value} is above {"" if high_in else "or equal to "}{high}'
    return checked, None
  return check


def _text(value):
  return value if isinstance(value, str) else json.dumps(value)


def _regex(rule):
  path, pattern = rule.path, re.compile(rule.pattern)

  def check(row, event_time, now):
    checked = 0
    for value in values_at(row, path):
      if value is None:
        continue
      checked += 1
      if isinstance(value, (dict, list)) or not pattern.fullmatch(_text(value)):
        return checked, f'{path}: value does not match {rule.pattern!r}'
    return checked, None
  return check


def _value_key(value):
  if isinstance(value, bool):
    return ('bool', value)
  if isinstance(value, (int, float)):
    return ('number', float(value))
  return (type(value).__name__, value)


def _allowed_values(rule):
  path = rule.path
  allowed = {_value_key(v) for v in rule.values}

  def check(row, event_time, now):
    checked = 0
    for value in values_at(row, path):
      if value is None:
        continue
      checked += 1
      if isinstance(value, (dict, list)) or _value_key(value) not in allowed:
        return checked, f'{path}: value is not one of the allowed values'
    return checked, None
  return check


def _freshness(rule):
  path, max_delay, max_future = rule.path, rule.max_delay_seconds, rule.max_future_seconds

  def check(row, event_time, now):
    if path is not None:
      values = [v for v in values_at(row, path) if v is not None]
      event = parse_timestamp(values[0]) if values else None
    else:
      event = event_time
    if event is None:
      return 0, None
    lag = now - event
    if lag > max_delay:
      return 1, f'event is {lag:.0f} s old (max {max_delay:g} s)'
    if max_future is not None and -lag > max_future:
      return 1, f'event is {-lag:.0f} s in the future (max {max_future:g} s)'
    return 1, None
  return check


_COMPILERS = {
    'not_null': _not_null,
    'range': _range,
    'regex': _regex,
    'allowed_values': _allowed_values,
    'freshness': _freshness,
}


def compile_rule(rule):
  """The check function of a row-level rule (ValueError for ``unique``)."""
  if rule.kind not in _COMPILERS:
    raise ValueError(f'quality rule {rule.id!r}: kind {rule.kind} is not a row-level rule')
  return _COMPILERS[rule.kind](rule)


def unique_key(row, paths):
  """The uniqueness key of a row as text, or None when any key value is missing/null."""
  parts = []
  for path in paths:
    values = values_at(row, path)
    if not values or any(v is None for v in values):
      return None
    parts.append(values if len(values) > 1 else values[0])
  return json.dumps(parts, sort_keys=True, default=str)
