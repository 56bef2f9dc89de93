"""What the run report shows besides the counters, read back from what the run wrote.

After a run (and at every periodic rewrite of a streaming run) the summary gains:

- ``windows``: this run's rows of the quality table (volume, scores, freshness per window);
- ``alerts['list']``: this run's rows of the alerts table;
- ``dead_letter_examples``: up to 3 dead letters per errorType from the dead-letter table.
  They are the records as written, i.e. after ``MaskDeadLetters``: with a masking policy the
  payload is masked. Without one (``--masking_policy`` unset) the payload is left out and
  only the stage, source id and message are shown: a report is shared more widely than the
  dead-letter table.

"This run" = rows of this pipeline name written since the run started. BigQuery tables are
queried (the emulator when ``BIGQUERY_EMULATOR_HOST`` is set); JSONL files (lake runs,
``--dead_letter_sink files``) are read; a Pub/Sub dead-letter sink has nothing to read back.
A read that fails leaves its part empty and says why in ``report_notes``: the report is
never the reason a run fails.
"""

import json
import logging

from beam_pipelines.transforms.core.dead_letter import format_timestamp

_LOG = logging.getLogger(__name__)
EXAMPLES_PER_TYPE = 3
MAX_PAYLOAD_CHARS = 300
WINDOW_COLUMNS = ('window_start', 'window_end', 'pane', 'rows', 'dead_lettered', 'flagged',
                  'completeness', 'validity', 'uniqueness', 'freshness', 'lag_p50_seconds',
                  'lag_p95_seconds', 'lag_max_seconds', 'newest_event_age_seconds')
ALERT_COLUMNS = ('alert_id', 'raised_at', 'rule', 'kind', 'severity', 'window_start',
                 'window_end', 'observed', 'expected', 'message', 'dead_letters_query')


def _sql_table(table):
  return table.replace(':', '.', 1)


def _json_value(value):
  if hasattr(value, 'isoformat'):
    return format_timestamp(value.timestamp())
  return value


def _query(sql, params):
  from google.cloud import bigquery

  from beam_pipelines.transforms.core.bigquery_client import bigquery_client
  client = bigquery_client()
  config = bigquery.QueryJobConfig(query_parameters=[
      bigquery.ScalarQueryParameter(name, kind, value) for name, kind, value in params])
  return [{k: _json_value(v) for k, v in row.items()}
          for row in client.query(sql, job_config=config).result()]


def _read_jsonl(prefix):
  from apache_beam.io.filesystems import FileSystems
  out = []
  for match in FileSystems.match([prefix + '*'])[0].metadata_list:
    with FileSystems.open(match.path) as f:
      out += [json.loads(line) for line in f.read().decode('utf-8').splitlines()
              if line.strip()]
  return out


def _this_run(rows, pipeline, started, time_field):
  since = format_timestamp(started)
  return [r for r in rows if r.get('pipeline') == pipeline and (r.get(time_field) or '') >= since]


def _run_rows(cfg, started, sink, path, columns, time_field, order):
  """This run's rows of a table (``sink``) or of its JSONL files (``path``): ``columns``,
  sorted by the ``order`` columns (None sorts first)."""
  if sink is not None:
    return _query(f'SELECT {", ".join(columns)} FROM `{_sql_table(sink.table)}` '
                  f'WHERE pipeline = @p AND {time_field} >= @t ORDER BY {", ".join(order)}',
                  [('p', 'STRING', cfg.pipeline_name), ('t', 'TIMESTAMP', format_timestamp(started))])
  rows = _this_run(_read_jsonl(path), cfg.pipeline_name, started, time_field)
  return sorted(({c: r.get(c) for c in columns} for r in rows),
                key=lambda r: tuple(r[c] or '' for c in order))


def _windows(cfg, started):
  quality = cfg.quality
  return _run_rows(cfg, started, quality.scores_sink, quality.scores_path, WINDOW_COLUMNS,
                   'computed_at', ('window_start', 'pane'))


def _alerts(cfg, started):
  monitoring = cfg.monitoring
  return _run_rows(cfg, started, monitoring.alert_sink, monitoring.alert_path, ALERT_COLUMNS,
                   'raised_at', ('window_start', 'rule'))


def _examples(cfg, started):
  dead = cfg.dead_letters
  columns = 'errorType, stage, sourceId, errorMessage, payloadString, pipeline, timestamp'
  if dead.kind == 'bigquery':
    rows = _query(
        f'SELECT {columns} FROM (SELECT {columns}, ROW_NUMBER() OVER (PARTITION BY errorType '
        f'ORDER BY sourceId) AS n FROM `{_sql_table(dead.table)}` WHERE pipeline = @p AND '
        f'timestamp >= @t) WHERE n <= {EXAMPLES_PER_TYPE} ORDER BY errorType, sourceId',
        [('p', 'STRING', cfg.pipeline_name), ('t', 'TIMESTAMP', format_timestamp(started))])
  elif dead.kind == 'files':
    rows = _this_run(_read_jsonl(dead.path), cfg.pipeline_name, started, 'timestamp')
  else:
    return None
  masked = cfg.masking is not None
  examples = {}
  for row in sorted(rows, key=lambda r: (r.get('errorType') or '', r.get('sourceId') or '')):
    kept = examples.setdefault(row.get('errorType') or '-', [])
    if len(kept) < EXAMPLES_PER_TYPE:
      payload = (row.get('payloadString') or '')[:MAX_PAYLOAD_CHARS] if masked else None
      kept.append({'stage': row.get('stage'), 'sourceId': row.get('sourceId'),
                   'errorMessage': row.get('errorMessage'), 'payload': payload})
  return examples


def add_report_data(summary, cfg, started):
  """Adds ``windows``, ``alerts['list']``, ``dead_letter_examples`` (module docstring) to
  ``summary`` and returns it."""
  notes = []

  def read(what, fn):
    try:
      return fn(cfg, started)
    except Exception as e:  # pylint: disable=broad-except
      _LOG.warning('run report: could not read the %s: %s', what, e)
      notes.append(f'{what}: not read ({type(e).__name__}: {str(e)[:200]})')
      return None

  if cfg.quality.rules is not None:
    summary['windows'] = read('quality windows', _windows) or []
  if cfg.monitoring.alerts_destination and summary.get('alerts') is not None:
    summary['alerts']['list'] = read('alerts', _alerts) or []
  summary['dead_letter_examples'] = read('dead-letter examples', _examples)
  summary['examples_masked'] = cfg.masking is not None
  summary['report_notes'] = notes
  return summary
