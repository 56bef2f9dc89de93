"""SLA rules of the quality rules file: freshness, volume, dead-letter rate, quality score.

They are checked per quality window (``window_seconds``; without it, once per batch run) by
``beam_pipelines.transforms.monitoring.EvaluateSlas``; a breach is one alert. Syntax (the
``slas`` list of the rules file, one kind key per entry)::

    alert_cooldown: 10m          # optional: after an alert, the same rule stays quiet for
                                 # windows starting within this much event time
    slas:
      - {id: fresh, freshness: {field: event_time, max_lag: 5m}}          # lag p95 <= 5m
      - {id: newest, freshness: {max_age: 1h}}            # newest event at most 1 h old
      - {id: enough, volume: {min: 100, per: 1m}}         # >= 100 rows a minute
      - {id: burst, volume: {anomaly: zscore, threshold: 3, warmup: 10}, severity: warning}
      - {id: bad_rate, dead_letter_rate: {max: 0.02}}     # dead letters / records
      - {id: dl_spike, dead_letter_rate: {anomaly: robust_zscore}}
      - {id: scores, quality_score: {min: 0.95}}          # every score; or score: validity

``severity`` is ``warning`` or ``critical`` (default). ``anomaly`` is one of Beam's detectors
(``apache_beam.ml.anomaly``): ``zscore``, ``iqr`` or ``robust_zscore``, with ``threshold``
(default: the detector's own: 3, 1.5, 3), ``warmup`` (windows learned before it may alert,
default 5) and ``history`` (its sliding window, in windows, default 100).
"""

import math
import re
from dataclasses import dataclass
from typing import Optional

from beam_pipelines.transforms.core.durations import parse_duration

SLA_KINDS = ('freshness', 'volume', 'dead_letter_rate', 'quality_score')
SEVERITIES = ('warning', 'critical')
DETECTORS = ('zscore', 'iqr', 'robust_zscore')
LAG_STATS = ('p50', 'p95', 'max')
SCORE_NAMES = ('completeness', 'validity', 'uniqueness', 'freshness')
_ID = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_\-]{0,99}$')
_COMMON = {'id', 'severity', 'description', 'cooldown'}
_SETTINGS = {
    'freshness': {'field', 'max_lag', 'max_age', 'stat'},
    'volume': {'min', 'max', 'per', 'anomaly', 'threshold', 'warmup', 'history'},
    'dead_letter_rate': {'max', 'anomaly', 'threshold', 'warmup', 'history'},
    'quality_score': {'min', 'score'},
}


@dataclass(frozen=True)
class SlaRule:
  """One SLA rule (see the module docstring); made by ``parse_sla``."""
  id: str
  kind: str
  severity: str = 'critical'
  min: Optional[float] = None
  max: Optional[float] = None
  per_seconds: Optional[float] = None
  max_lag_seconds: Optional[float] = None
  max_age_seconds: Optional[float] = None
  stat: str = 'p95'
  score: Optional[str] = None
  anomaly: Optional[str] = None
  threshold: Optional[float] = None
  warmup: int = 5
  history: int = 100
  cooldown_seconds: Optional[float] = None

  def expected_volume(self, window_seconds):
    """(min, max) rows per window of ``window_seconds`` (``per`` scales the bounds)."""
    scale = 1.0
    if self.per_seconds and window_seconds:
      scale = window_seconds / self.per_seconds
    return (None if self.min is None else self.min * scale,
            None if self.max is None else self.max * scale)


def _fail(rule_id, message):
  raise ValueError(f'SLA {rule_id!r}: {message}')


def _number(rule_id, name, value, low=None, high=None):
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
    _fail(rule_id, f'{name} must be a number, got {value!r}')
  if (low is not None and value < low) or (high is not None and value > high):
    _fail(rule_id, f'{name} must be between {low} and {high}, got {value!r}')
  return float(value)


def _count(rule_id, name, value, low):
  if isinstance(value, bool) or not isinstance(value, int) or value < low:
    _fail(rule_id, f'{name} must be a whole number >= {low}, got {value!r}')
  return value


def _seconds(rule_id, name, value, positive=True):
  try:
    seconds = parse_duration(value)
  except ValueError as e:
    _fail(rule_id, f'{name}: {e}')
  if positive and seconds <= 0:
    _fail(rule_id, f'{name} must be more than 0 seconds, got {value!r}')
  return seconds


def _anomaly(rule_id, settings, kwargs):
  kwargs['anomaly'] = settings['anomaly']
  if kwargs['anomaly'] not in DETECTORS:
    _fail(rule_id, f'anomaly must be one of {"|".join(DETECTORS)}, got '
                   f'{settings["anomaly"]!r}')
  if 'threshold' in settings:
    kwargs['threshold'] = _number(rule_id, 'threshold', settings['threshold'], low=0)
  if 'warmup' in settings:
    kwargs['warmup'] = _count(rule_id, 'warmup', settings['warmup'], 0)
  if 'history' in settings:
    kwargs['history'] = _count(rule_id, 'history', settings['history'], 2)


def _bounds(rule_id, settings, kwargs, names, low=None, high=None):
  for name in names:
    if settings.get(name) is not None:
      kwargs[name] = _number(rule_id, name, settings[name], low, high)
  if kwargs.get('min') is not None and kwargs.get('max') is not None and (
      kwargs['min'] > kwargs['max']):
    _fail(rule_id, f'min {kwargs["min"]:g} is greater than max {kwargs["max"]:g}')


def _settings(kind, rule_id, settings, kwargs, timestamp_field):
  if kind == 'freshness':
    field = settings.get('field')
    if field is not None and field != timestamp_field:
      _fail(rule_id, f'field {field!r} must be the rules\' timestamp_field '
                     f'({timestamp_field!r}): the windows are over that event time')
    if settings.get('max_lag') is None and settings.get('max_age') is None:
      _fail(rule_id, 'freshness needs max_lag, max_age or both')
    if settings.get('max_lag') is not None:
      kwargs['max_lag_seconds'] = _seconds(rule_id, 'max_lag', settings['max_lag'])
    if settings.get('max_age') is not None:
      kwargs['max_age_seconds'] = _seconds(rule_id, 'max_age', settings['max_age'])
    stat = settings.get('stat', 'p95')
    if stat not in LAG_STATS:
      _fail(rule_id, f'stat must be one of {"|".join(LAG_STATS)}, got {stat!r}')
    kwargs['stat'] = stat
    return
  if kind == 'quality_score':
    if settings.get('min') is None:
      _fail(rule_id, 'quality_score needs min')
    _bounds(rule_id, settings, kwargs, ('min',), 0, 1)
    score = settings.get('score')
    if score is not None and score not in SCORE_NAMES:
      _fail(rule_id, f'score must be one of {"|".join(SCORE_NAMES)}, got {score!r}')
    kwargs['score'] = score
    return
  has_bounds = any(settings.get(b) is not None for b in ('min', 'max'))
  if 'anomaly' in settings:
    if has_bounds:
      _fail(rule_id, 'anomaly and min/max are separate rules: give one of them')
    _anomaly(rule_id, settings, kwargs)
  elif kind == 'volume':
    if not has_bounds:
      _fail(rule_id, 'volume needs min, max or anomaly')
    _bounds(rule_id, settings, kwargs, ('min', 'max'), low=0)
  else:
    if settings.get('max') is None:
      _fail(rule_id, 'dead_letter_rate needs max or anomaly')
    _bounds(rule_id, settings, kwargs, ('max',), 0, 1)
  extra = {'threshold', 'warmup', 'history'} & set(settings)
  if 'anomaly' not in settings and extra:
    _fail(rule_id, f'{", ".join(sorted(extra))} only go with anomaly')
  if settings.get('per') is not None:
    if kind != 'volume' or 'anomaly' in settings:
      _fail(rule_id, 'per goes with volume min/max')
    kwargs['per_seconds'] = _seconds(rule_id, 'per', settings['per'])


def parse_sla(raw, index=0, timestamp_field=None):
  """One entry of ``slas`` -> SlaRule (ValueError naming the rule and the setting)."""
  if not isinstance(raw, dict):
    raise ValueError(f'SLA #{index + 1}: expected a mapping, got {type(raw).__name__}')
  kinds = [k for k in SLA_KINDS if k in raw]
  if len(kinds) != 1:
    raise ValueError(f'SLA #{index + 1}: give exactly one of {", ".join(SLA_KINDS)} '
                     f'(got {sorted(set(raw) - _COMMON) or "none"})')
  kind = kinds[0]
  rule_id = raw.get('id', kind)
  if not isinstance(rule_id, str) or not _ID.match(rule_id):
    raise ValueError(f'SLA #{index + 1}: id must be letters, digits, _ or - (up to 100), '
                     f'got {rule_id!r}')
  unknown = set(raw) - _COMMON - {kind}
  if unknown:
    _fail(rule_id, f'unknown field(s) {sorted(unknown)} (allowed: {sorted(_COMMON)} and the '
                   'kind)')
  settings = raw[kind]
  if not isinstance(settings, dict):
    _fail(rule_id, f'{kind} must be a mapping of settings, got {settings!r}')
  unknown = set(settings) - _SETTINGS[kind]
  if unknown:
    _fail(rule_id, f'unknown {kind} setting(s) {sorted(unknown)} (allowed: '
                   f'{sorted(_SETTINGS[kind])})')
  severity = raw.get('severity', 'critical')
  if severity not in SEVERITIES:
    _fail(rule_id, f'severity must be one of {"|".join(SEVERITIES)}, got {severity!r}')
  kwargs = {'id': rule_id, 'kind': kind, 'severity': severity}
  if raw.get('cooldown') is not None:
    kwargs['cooldown_seconds'] = _seconds(rule_id, 'cooldown', raw['cooldown'], False)
  _settings(kind, rule_id, settings, kwargs, timestamp_field)
  return SlaRule(**kwargs)


def parse_slas(raw, timestamp_field=None):
  """The ``slas`` list -> a tuple of SlaRules with unique ids."""
  if not isinstance(raw, list):
    raise ValueError(f'slas must be a list, got {type(raw).__name__}')
  rules = tuple(parse_sla(item, i, timestamp_field) for i, item in enumerate(raw))
  seen = set()
  for rule in rules:
    if rule.id in seen:
      raise ValueError(f'SLA {rule.id!r}: duplicate id (give each SLA of a kind its own id)')
    seen.add(rule.id)
  return rules
