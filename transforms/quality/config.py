"""Data-quality rules as typed, frozen config: ``QualityConfig`` of ``QualityRule``s.

They are made from a rules file by ``beam_pipelines.transforms.quality.rules_file.load_quality_rules``
(the file format is described there), or built directly in code.
"""

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Optional, Tuple

from beam_pipelines.transforms.compat import moved_names

RULE_KINDS = ('not_null', 'range', 'regex', 'allowed_values', 'unique', 'freshness')


ACTIONS = ('flag', 'dead_letter')


# Which score each kind feeds.
SCORE_OF_KIND = {
    'not_null': 'completeness',
    'range': 'validity', 'regex': 'validity', 'allowed_values': 'validity',
    'unique': 'uniqueness',
    'freshness': 'freshness',
}


SCORES = ('completeness', 'validity', 'uniqueness', 'freshness')
# A dotted field path: parts without dots or spaces.
FIELD_PATH = re.compile(r'^[^.\s]+(\.[^.\s]+)*$')


@dataclass(frozen=True)
class QualityRule:
  """One rule. Kind-specific settings: ``range`` min/max (numbers; inclusive unless
  ``min_inclusive``/``max_inclusive`` say false), ``regex`` pattern (must match the whole
  text), ``allowed_values`` values, ``unique`` paths (the key; default ``(path,)``),
  ``freshness`` max_delay_seconds / max_future_seconds."""
  id: str
  kind: str
  path: Optional[str] = None
  action: str = 'flag'
  min: Optional[Decimal] = None
  max: Optional[Decimal] = None
  min_inclusive: bool = True
  max_inclusive: bool = True
  pattern: Optional[str] = None
  values: Tuple[Any, ...] = ()
  paths: Tuple[str, ...] = ()
  max_delay_seconds: Optional[float] = None
  max_future_seconds: Optional[float] = None

  @property
  def score(self):
    return SCORE_OF_KIND[self.kind]

  @property
  def error_type(self):
    return f'quality:{self.id}'


@dataclass(frozen=True)
class QualityConfig:
  """The validated rule set (see the module docstring)."""
  rules: Tuple[QualityRule, ...]
  window_seconds: Optional[float] = None
  timestamp_field: Optional[str] = None
  allowed_lateness_seconds: float = 0
  flag_field: Optional[str] = None
  source: Optional[str] = None  # the file it came from, for messages
  # SLA rules checked per window (``beam_pipelines.transforms.quality.sla``) and the
  # cool-down between two alerts of one rule (event time of their windows).
  slas: Tuple[Any, ...] = ()
  alert_cooldown_seconds: float = 0

  def __post_init__(self):
    if not self.rules and not self.slas:
      raise ValueError('quality rules: at least one rule (or SLA) is required')
    seen = set()
    for rule in self.rules:
      if not isinstance(rule, QualityRule):
        raise ValueError(f'quality rules: expected QualityRule, got {type(rule).__name__}')
      if rule.id in seen:
        raise ValueError(f'quality rule {rule.id!r}: duplicate id')
      seen.add(rule.id)
    if self.window_seconds is not None and not (self.window_seconds > 0):
      raise ValueError(f'quality rules: window_seconds must be positive, got '
                       f'{self.window_seconds!r}')
    if self.allowed_lateness_seconds < 0:
      raise ValueError('quality rules: allowed_lateness_seconds must be >= 0')
    if self.timestamp_field is not None and not FIELD_PATH.match(self.timestamp_field):
      raise ValueError(f'quality rules: invalid timestamp_field {self.timestamp_field!r}')
    if self.flag_field is not None and not re.match(r'^[A-Za-z_][A-Za-z0-9_]{0,299}$',
                                                    self.flag_field):
      raise ValueError(f'quality rules: invalid flag_field {self.flag_field!r}')

  @property
  def row_rules(self):
    return tuple(r for r in self.rules if r.kind != 'unique')

  @property
  def unique_rules(self):
    return tuple(r for r in self.rules if r.kind == 'unique')


def quality_output_schema(schema, config):
  """The table schema plus the ``flag_field`` column (REPEATED STRING) when configured."""
  from beam_pipelines.transforms.core.schema import FieldSpec, TableSchema, load_schema
  schema = load_schema(schema)
  if config is None or not config.flag_field:
    return schema
  return TableSchema(fields=schema.fields + (
      FieldSpec(name=config.flag_field, type='STRING', mode='REPEATED',
                description='ids of the data-quality rules (action flag) this row failed'),))



# Moved to rules_file in 0.2; the old names work for one more release.
__getattr__ = moved_names(__name__, {'load_quality_rules': 'beam_pipelines.transforms.quality.rules_file',
                                     'parse_rule': 'beam_pipelines.transforms.quality.rules_file'})
