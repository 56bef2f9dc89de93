"""The alert record: one per SLA breach, the same for the alerts table, Pub/Sub and webhooks.

| field | type | note |
|---|---|---|
| alert_id | STRING | ``<pipeline>/<rule>/<window start or run>``: stable, for de-duplication |
| raised_at | TIMESTAMP | when the breach was seen (UTC) |
| pipeline, rule, kind, severity | STRING | the SLA rule (kind: freshness, volume, ...) |
| window_start, window_end | TIMESTAMP | the window checked (NULL: the whole batch run) |
| observed | FLOAT64 | the value measured (rows, seconds, a rate or a score) |
| expected | STRING | what the rule wanted, e.g. ``>= 100``, ``<= 300 s``, ``z-score < 3`` |
| message | STRING | one readable line |
| quality_table, dead_letter_table | STRING | where the window's rows are |
| quality_query, dead_letters_query | STRING | SQL selecting that window's quality row and dead letters |
"""

import datetime
from dataclasses import dataclass
from typing import Optional

from beam_pipelines.transforms.core.dead_letter import format_timestamp
from beam_pipelines.transforms.core.schema import load_schema

ALERT_FIELDS = (
    ('alert_id', 'STRING', 'REQUIRED'), ('raised_at', 'TIMESTAMP', 'REQUIRED'),
    ('pipeline', 'STRING', 'NULLABLE'), ('rule', 'STRING', 'REQUIRED'),
    ('kind', 'STRING', 'REQUIRED'), ('severity', 'STRING', 'REQUIRED'),
    ('window_start', 'TIMESTAMP', 'NULLABLE'), ('window_end', 'TIMESTAMP', 'NULLABLE'),
    ('observed', 'FLOAT64', 'NULLABLE'), ('expected', 'STRING', 'NULLABLE'),
    ('message', 'STRING', 'NULLABLE'), ('quality_table', 'STRING', 'NULLABLE'),
    ('dead_letter_table', 'STRING', 'NULLABLE'), ('quality_query', 'STRING', 'NULLABLE'),
    ('dead_letters_query', 'STRING', 'NULLABLE'),
)


def alert_table_schema():
  """The alerts table's schema (a ``TableSchema``)."""
  return load_schema({'fields': [{'name': n, 'type': t, 'mode': m} for n, t, m in ALERT_FIELDS]})


@dataclass(frozen=True)
class AlertLinks:
  """Where a window's rows are, for the links of an alert: tables as ``P:D.T`` or ``P.D.T``
  (or file prefixes); None when not known."""
  quality_table: Optional[str] = None
  dead_letter_table: Optional[str] = None

  def queries(self, pipeline, start, end):
    """(quality_query, dead_letters_query) selecting one window's rows (None without a
    BigQuery table)."""
    quality = dead = None
    between = ''
    if start is not None and end is not None:
      between = (f" AND eventTimestamp >= TIMESTAMP '{start}'"
                 f" AND eventTimestamp < TIMESTAMP '{end}'")
    if _is_table(self.quality_table):
      where = 'window_start IS NULL' if start is None else f"window_start = TIMESTAMP '{start}'"
      quality = (f'SELECT * FROM `{_sql_name(self.quality_table)}` WHERE {where}'
                 f"{_pipeline_filter(pipeline)}")
    if _is_table(self.dead_letter_table):
      dead = (f'SELECT * FROM `{_sql_name(self.dead_letter_table)}` WHERE TRUE'
              f'{_pipeline_filter(pipeline)}{between}')
    return quality, dead


def _is_table(name):
  return bool(name) and '/' not in name and '.' in name


def _sql_name(table):
  return table.replace(':', '.', 1)


def _pipeline_filter(pipeline):
  if not pipeline:
    return ''
  return " AND pipeline = '" + pipeline.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _bound(seconds):
  if seconds is None:
    return None
  return format_timestamp(seconds)


def make_alert(rule, window_start, window_end, observed, expected, message, pipeline=None,
               links=None, now=None):
  """One alert record (a dict in the alerts table's JSON form)."""
  start, end = _bound(window_start), _bound(window_end)
  raised = now if now is not None else datetime.datetime.now(datetime.timezone.utc).timestamp()
  links = links or AlertLinks()
  quality_query, dead_query = links.queries(pipeline, start, end)
  return {
      'alert_id': f'{pipeline or "-"}/{rule.id}/{start or "run"}',
      'raised_at': format_timestamp(raised),
      'pipeline': pipeline, 'rule': rule.id, 'kind': rule.kind, 'severity': rule.severity,
      'window_start': start, 'window_end': end,
      'observed': None if observed is None else round(float(observed), 6),
      'expected': expected, 'message': message,
      'quality_table': links.quality_table, 'dead_letter_table': links.dead_letter_table,
      'quality_query': quality_query, 'dead_letters_query': dead_query,
  }
