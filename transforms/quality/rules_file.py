"""The data-quality rules file (YAML/JSON), validated once into ``QualityConfig``.

File format (``--quality_rules``)::

    window_seconds: 60          # optional: scores per fixed event-time window (else one
                                # score row per run in batch; required when streaming)
    timestamp_field: event_time # optional: event time of a row (TIMESTAMP); default: the
                                # element's timestamp
    allowed_lateness_seconds: 0 # optional: late rows still update their window's scores
    flag_field: dq_flags        # optional: a REPEATED STRING column listing failed 'flag'
                                # rules of each written row (added to the output schema)
    rules:
      - {id: user_present, kind: not_null, path: user.id, action: dead_letter}
      - {id: amount_range, kind: range, path: amount, min: 0, max: 10000}
      - {id: email_format, kind: regex, path: user.email, pattern: '[^@]+@[^@]+'}
      - {id: known_type, kind: allowed_values, path: event_type, values: [click, view]}
      - {id: unique_event, kind: unique, path: event_id, action: dead_letter}
      - {id: fresh, kind: freshness, path: event_time, max_delay_seconds: 3600}
    slas:                       # optional: SLA rules per window, alerts on a breach
      - {id: fresh_5m, freshness: {field: event_time, max_lag: 5m}}
    alert_cooldown: 10m         # optional: quiet time after an alert of a rule

Every rule has an ``id`` (letters, digits, ``_``, ``-``; unique), a ``kind``, a ``path``
(dotted; through arrays every element counts) and an ``action``: ``flag`` (default: the row
is written and the failure counted) or ``dead_letter`` (errorType ``quality:<id>``, stage
``quality``). ``slas`` are described in ``beam_pipelines.transforms.quality.sla`` (``rules``
may be left out when ``slas`` are given). Problems raise ``ValueError`` naming the rule and
the field.
"""

import json
import math
import re
from decimal import Decimal, InvalidOperation

from beam_pipelines.transforms.core.durations import parse_duration
from beam_pipelines.transforms.quality.config import ACTIONS, FIELD_PATH, RULE_KINDS, QualityConfig, QualityRule
from beam_pipelines.transforms.quality.sla import parse_slas

_RULE_ID = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_\-]{0,99}$')
_COMMON_KEYS = {'id', 'kind', 'path', 'action', 'description'}
_KIND_KEYS = {
    'not_null': set(),
    'range': {'min', 'max', 'min_inclusive', 'max_inclusive'},
    'regex': {'pattern'},
    'allowed_values': {'values'},
    'unique': {'paths'},
    'freshness': {'max_delay_seconds', 'max_future_seconds'},
}
_TOP_KEYS = {'rules', 'window_seconds', 'timestamp_field', 'allowed_lateness_seconds',
             'flag_field', 'version', 'slas', 'alert_cooldown'}


def _number(rule_id, name, value):
  if isinstance(value, bool) or value is None:
    raise ValueError(f'quality rule {rule_id!r}: {name} must be a number, got {value!r}')
  try:
    number = Decimal(str(value))
  except InvalidOperation:
    raise ValueError(f'quality rule {rule_id!r}: {name} must be a number, '
                     f'got {value!r}') from None
  if not number.is_finite():
    raise ValueError(f'quality rule {rule_id!r}: {name} must be finite, got {value!r}')
  return number


def _seconds(rule_id, name, value):
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
      value) or value < 0:
    raise ValueError(f'quality rule {rule_id!r}: {name} must be a number of seconds >= 0, '
                     f'got {value!r}')
  return float(value)


def _bool(rule_id, name, value):
  if not isinstance(value, bool):
    raise ValueError(f'quality rule {rule_id!r}: {name} must be true or false, got {value!r}')
  return value


def _check_path(rule_id, name, value, schema=None):
  if not isinstance(value, str) or not FIELD_PATH.match(value):
    raise ValueError(f'quality rule {rule_id!r}: {name} must be a dotted field path, '
                     f'got {value!r}')
  if schema is not None and schema.find(value) is None:
    raise ValueError(f'quality rule {rule_id!r}: {name} {value!r} is not in the table schema')
  return value


def parse_rule(raw, index=0, schema=None):
  """One rule dict -> QualityRule (ValueError naming the rule and the field)."""
  if not isinstance(raw, dict):
    raise ValueError(f'quality rule #{index + 1}: expected a mapping, got {type(raw).__name__}')
  rule_id = raw.get('id')
  if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
    raise ValueError(f'quality rule #{index + 1}: id must be letters, digits, _ or - '
                     f'(up to 100), got {rule_id!r}')
  kind = raw.get('kind')
  if kind not in RULE_KINDS:
    raise ValueError(f'quality rule {rule_id!r}: kind must be one of {RULE_KINDS}, '
                     f'got {kind!r}')
  unknown = set(raw) - _COMMON_KEYS - _KIND_KEYS[kind]
  if unknown:
    raise ValueError(f'quality rule {rule_id!r}: unknown field(s) {sorted(unknown)} for kind '
                     f'{kind} (allowed: {sorted(_COMMON_KEYS | _KIND_KEYS[kind])})')
  action = raw.get('action', 'flag')
  if action not in ACTIONS:
    raise ValueError(f'quality rule {rule_id!r}: action must be one of {ACTIONS}, '
                     f'got {action!r}')
  kwargs = {'id': rule_id, 'kind': kind, 'action': action}
  path = raw.get('path')
  if kind == 'freshness':
    if path is not None:
      kwargs['path'] = _check_path(rule_id, 'path', path, schema)
    if 'max_delay_seconds' not in raw:
      raise ValueError(f'quality rule {rule_id!r}: max_delay_seconds is required for '
                       'freshness')
    kwargs['max_delay_seconds'] = _seconds(rule_id, 'max_delay_seconds',
                                           raw['max_delay_seconds'])
    if raw.get('max_future_seconds') is not None:
      kwargs['max_future_seconds'] = _seconds(rule_id, 'max_future_seconds',
                                              raw['max_future_seconds'])
  elif kind == 'unique':
    paths = raw.get('paths')
    if paths is None:
      if path is None:
        raise ValueError(f'quality rule {rule_id!r}: path (or paths) is required')
      paths = [path]
    if not isinstance(paths, list) or not paths:
      raise ValueError(f'quality rule {rule_id!r}: paths must be a non-empty list')
    kwargs['paths'] = tuple(_check_path(rule_id, 'paths', p, schema) for p in paths)
    kwargs['path'] = path if path is not None else ','.join(kwargs['paths'])
  else:
    if path is None:
      raise ValueError(f'quality rule {rule_id!r}: path is required')
    kwargs['path'] = _check_path(rule_id, 'path', path, schema)
  if kind == 'range':
    if raw.get('min') is None and raw.get('max') is None:
      raise ValueError(f'quality rule {rule_id!r}: range needs min, max or both')
    for bound in ('min', 'max'):
      if raw.get(bound) is not None:
        kwargs[bound] = _number(rule_id, bound, raw[bound])
    for flag in ('min_inclusive', 'max_inclusive'):
      if flag in raw:
        kwargs[flag] = _bool(rule_id, flag, raw[flag])
    if kwargs.get('min') is not None and kwargs.get('max') is not None and (
        kwargs['min'] > kwargs['max']):
      raise ValueError(f'quality rule {rule_id!r}: min {raw["min"]} is greater than max '
                       f'{raw["max"]}')
  elif kind == 'regex':
    pattern = raw.get('pattern')
    if not isinstance(pattern, str) or not pattern:
      raise ValueError(f'quality rule {rule_id!r}: pattern must be a non-empty string')
    try:
      re.compile(pattern)
    except re.error as e:
      raise ValueError(f'quality rule {rule_id!r}: pattern is not a valid regular '
                       f'expression: {e}') from None
    kwargs['pattern'] = pattern
  elif kind == 'allowed_values':
    values = raw.get('values')
    if not isinstance(values, list) or not values:
      raise ValueError(f'quality rule {rule_id!r}: values must be a non-empty list')
    for value in values:
      if isinstance(value, (dict, list)) or value is None:
        raise ValueError(f'quality rule {rule_id!r}: values must be scalars (not null), '
                         f'got {value!r}')
    kwargs['values'] = tuple(values)
  return QualityRule(**kwargs)


def load_quality_rules(source, schema=None):
  """A QualityConfig from a path (YAML or JSON), YAML/JSON text, a dict or a QualityConfig.

  With ``schema`` (a TableSchema), every path must exist in it.

  Raises:
    ValueError: naming the file, the rule and the field.
  """
  if isinstance(source, QualityConfig):
    return source
  where = None
  if isinstance(source, str):
    text = source
    if '\n' not in source and not source.lstrip().startswith('{'):
      where = source
      text = _read_text(source)
    source = _parse_text(text, where or 'quality rules')
  if not isinstance(source, dict):
    raise ValueError(f'{where or "quality rules"}: expected a mapping with "rules"')
  unknown = set(source) - _TOP_KEYS
  if unknown:
    raise ValueError(f'{where or "quality rules"}: unknown key(s) {sorted(unknown)} '
                     f'(allowed: {sorted(_TOP_KEYS)})')
  raw_rules = source.get('rules', [] if source.get('slas') else None)
  if not isinstance(raw_rules, list) or not (raw_rules or source.get('slas')):
    raise ValueError(f'{where or "quality rules"}: "rules" must be a non-empty list (or '
                     'give "slas")')
  try:
    rules = tuple(parse_rule(raw, i, schema) for i, raw in enumerate(raw_rules))
    window = source.get('window_seconds')
    if window is not None and (isinstance(window, bool) or not isinstance(window,
                                                                          (int, float))):
      raise ValueError(f'quality rules: window_seconds must be a number, got {window!r}')
    lateness = source.get('allowed_lateness_seconds', 0)
    if isinstance(lateness, bool) or not isinstance(lateness, (int, float)):
      raise ValueError('quality rules: allowed_lateness_seconds must be a number')
    ts_field = source.get('timestamp_field')
    if ts_field is not None and schema is not None and schema.find(str(ts_field)) is None:
      raise ValueError(f'quality rules: timestamp_field {ts_field!r} is not in the table '
                       'schema')
    flag_field = source.get('flag_field')
    if flag_field is not None and schema is not None and schema.find(str(flag_field)):
      raise ValueError(f'quality rules: flag_field {flag_field!r} is already a column of the '
                       'table schema')
    slas = parse_slas(source.get('slas', []), ts_field)
    cooldown = source.get('alert_cooldown', 0)
    try:
      cooldown = parse_duration(cooldown)
    except ValueError as e:
      raise ValueError(f'quality rules: alert_cooldown: {e}') from None
    return QualityConfig(rules=rules, window_seconds=window, timestamp_field=ts_field,
                         allowed_lateness_seconds=float(lateness), flag_field=flag_field,
                         source=where, slas=slas, alert_cooldown_seconds=cooldown)
  except ValueError as e:
    if where:
      raise ValueError(f'{where}: {e}') from None
    raise


def _read_text(path):
  from apache_beam.io.filesystems import FileSystems
  try:
    with FileSystems.open(path) as f:
      return f.read().decode('utf-8')
  except Exception as e:  # any filesystem error: say which file
    raise ValueError(f'cannot read quality rules file {path!r}: {e}') from None


def _parse_text(text, where):
  try:
    return json.loads(text)
  except ValueError:
    pass
  import yaml
  try:
    return yaml.safe_load(text)
  except yaml.YAMLError as e:
    raise ValueError(f'{where}: neither JSON nor YAML: {e}') from None
