"""replay_dead_letters: re-inject the original payloads of chosen dead letters.

    python -m beam_pipelines.replay_dead_letters \\
        --dead_letter_table my-project:analytics.events_error_records \\
        --error_type 'type_mismatch:' --stage validate \\
        --replay_to_path gs://my-bucket/replay/events

Reads dead letters from JSONL files (``--dead_letter_path``: the prefix the files sink was
given, or a glob) or from a BigQuery table (``--dead_letter_table``), keeps those whose
errorType matches ``--error_type`` (comma-separated; an entry ending in ``:`` or ``*`` is a
prefix, ``*`` alone matches all) and, optionally, whose stage is ``--stage``, and writes each
one's original payload bytes to

- files (``--replay_to_path PREFIX``): one payload per line, ready for
  ``files_to_bigquery --input 'PREFIX*'`` (Avro/Parquet dead letters carry JSON payloads, so
  they replay as JSONL; CSV records replay without a header: read them with
  ``--csv_header false --csv_columns ...``), or
- a Pub/Sub topic (``--replay_to_topic projects/P/topics/T``) with the original attributes.

Never silently drops a matching record: payloads truncated in the dead letter (over 1 MiB)
are not replayed and are counted as ``skipped_truncated``; a multi-line payload that is not
CSV or JSON cannot be a line of a file and is counted as ``skipped_multiline``; unreadable
dead-letter lines are counted as ``unreadable``. The summary printed at the end shows each.
"""

import base64
import json
import logging
import sys

import apache_beam as beam
from apache_beam import coders
from apache_beam.metrics import Metrics

from beam_pipelines.options.replay import (  # noqa: F401  (ErrorTypeFilter: re-exported)
  SHARED_FLAGS,
  ErrorTypeFilter,
  ReplayOptions,
  replay_config,
)
from beam_pipelines.runtime.cli import PipelineCli, option_errors_while_building, options_and_config
from beam_pipelines.runtime.runners import metrics_unavailable
from beam_pipelines.runtime.summary import collect_counters, format_summary, job_summary
from beam_pipelines.transforms.core.table_spec import parse_table_spec
from beam_pipelines.transforms.write.pubsub import PublishToPubSub

_LOG = logging.getLogger(__name__)
NAME = 'replay_dead_letters'
# The options this pipeline reads (its template's metadata.json documents exactly these):
# its own class (OPTIONS_CLASSES, below) plus two dead-letter flags shared with CommonOptions.
EXTRA_FLAGS = SHARED_FLAGS
TRUNCATION_MARK = '(payload truncated from'


def _attributes_dict(attributes):
  return {a['key']: a['value'] for a in attributes or [] if a.get('key') is not None}


class _ParseDeadLetterLineFn(beam.DoFn):
  def __init__(self):
    self._unreadable = Metrics.counter('replay', 'unreadable')

  def process(self, line):
    try:
      record = json.loads(line)
      yield {
          'payload': base64.b64decode(record['payloadBytes']),
          'attributes': _attributes_dict(record.get('attributes')),
          'errorType': record.get('errorType'), 'stage': record.get('stage'),
          'sourceId': record.get('sourceId'), 'errorMessage': record.get('errorMessage') or '',
      }
    except Exception as e:  # pylint: disable=broad-except
      self._unreadable.inc()
      _LOG.error('unreadable dead-letter line (%s): %.200s', e, line)


class _ReadTableFn(beam.DoFn):
  """Reads a dead-letter table with the google-cloud-bigquery client (a query)."""

  def __init__(self, table, project):
    self._table = table
    self._project = project

  def process(self, unused):
    from beam_pipelines.transforms.core.bigquery_client import bigquery_client, emulator_project
    project, dataset, table = parse_table_spec(self._table, 'dead_letter_table')
    project = project or self._project or emulator_project()
    client = bigquery_client(project)
    sql = (f'SELECT payloadBytes, attributes, errorType, stage, sourceId, errorMessage '
           f'FROM `{project}.{dataset}.{table}`')
    for row in client.query(sql).result():
      payload = row['payloadBytes']
      if isinstance(payload, str):
        payload = base64.b64decode(payload)
      yield {
          'payload': bytes(payload or b''),
          'attributes': _attributes_dict(row['attributes']),
          'errorType': row['errorType'], 'stage': row['stage'], 'sourceId': row['sourceId'],
          'errorMessage': row['errorMessage'] or '',
      }


class _SelectFn(beam.DoFn):
  """Keeps matching dead letters whose payload can be replayed; counts every outcome."""

  def __init__(self, error_filter, stage, for_files):
    self._filter = error_filter
    self._stage = stage
    self._for_files = for_files
    self._read = Metrics.counter('replay', 'read')
    self._matched = Metrics.counter('replay', 'matched')
    self._truncated = Metrics.counter('replay', 'skipped_truncated')
    self._multiline = Metrics.counter('replay', 'skipped_multiline')

  def process(self, record):
    self._read.inc()
    if not self._filter(record['errorType']):
      return
    if self._stage and record['stage'] != self._stage:
      return
    self._matched.inc()
    if TRUNCATION_MARK in record['errorMessage']:
      self._truncated.inc()
      _LOG.error('not replaying %s: its payload was truncated in the dead letter',
                 record['sourceId'])
      return
    payload = record['payload']
    if self._for_files and (b'\n' in payload or b'\r' in payload):
      payload = self._one_line(record)
      if payload is None:
        self._multiline.inc()
        _LOG.error('not replaying %s: a multi-line payload cannot be one line of a file',
                   record['sourceId'])
        return
    yield payload, record['attributes']

  @staticmethod
  def _one_line(record):
    if record['attributes'].get('format') == 'csv':
      return record['payload']  # quoted newlines are valid CSV
    try:
      return json.dumps(json.loads(record['payload']), ensure_ascii=False,
                        separators=(',', ':')).encode('utf-8')
    except ValueError:
      return None


class _CountFn(beam.DoFn):
  def __init__(self):
    self._replayed = Metrics.counter('replay', 'replayed')

  def process(self, element):
    self._replayed.inc()
    yield element


def build_pipeline(p, cfg):
  """Adds the replay chain to ``p``; returns the PCollection of (payload, attributes)."""
  if cfg.path:
    records = (p
               # validate=False: a gs:// glob is not looked up while the graph is built
               | 'ReadFiles' >> beam.io.ReadFromText(cfg.path, validate=False)
               | 'ParseDeadLetters' >> beam.ParDo(_ParseDeadLetterLineFn()))
  else:
    records = (p
               | 'Start' >> beam.Create([None])
               | 'ReadTable' >> beam.ParDo(_ReadTableFn(cfg.table, cfg.project)))
  selected = (records
              | 'Select' >> beam.ParDo(_SelectFn(cfg.error_filter, cfg.stage,
                                                 for_files=bool(cfg.to_path)))
              | 'Count' >> beam.ParDo(_CountFn()))
  if cfg.to_path:
    _ = (selected
         | 'Payloads' >> beam.Map(lambda pair: pair[0])
         | 'WriteFiles' >> beam.io.WriteToText(cfg.to_path, file_name_suffix=cfg.suffix,
                                               coder=coders.BytesCoder()))
  else:
    _ = selected | 'Publish' >> PublishToPubSub(cfg.to_topic, metric_namespace='replay')
  return selected


OPTIONS_CLASSES = (ReplayOptions,)


def config_from_options(options):
  """PipelineOptions -> ReplayConfig (raises ConfigError naming the option)."""
  return replay_config(options)


def summarize(counters):
  keys = ('read', 'matched', 'replayed', 'skipped_truncated', 'skipped_multiline',
          'unreadable')
  return {k: counters.get(('replay', k), 0) for k in keys}


CLI = PipelineCli(NAME, __doc__, OPTIONS_CLASSES, runner='FnApiRunner',
                  extra_flags=EXTRA_FLAGS, extra_title='Dead letters to read',
                  inputs=lambda cfg: [('dead_letter_path', cfg.path)])


def run(argv=None, print_summary=True):
  """Parses argv, replays, returns (result, summary dict)."""
  options, cfg = options_and_config(argv, NAME, CLI.runner, config_from_options, cli=CLI)
  with beam.Pipeline(options=options) as p:
    with option_errors_while_building(NAME):
      build_pipeline(p, cfg)
  reason = metrics_unavailable(p.result, options)
  if reason is not None:  # a dry run, a job not waited for: what is known of the job
    summary = job_summary(p.result, options=options, reason=reason)
    if print_summary:
      print(format_summary(summary, f'{NAME} summary'))
    return p.result, summary
  summary = summarize(collect_counters(p.result))
  if print_summary:
    print(f'{NAME} summary')
    for key, value in summary.items():
      print(f'  {key.replace("_", " "):<28}{value:>10}')
  return p.result, summary


def main(argv=None):
  """``python -m beam_pipelines.replay_dead_letters`` and ``beam-pipelines replay-dead-letters``."""
  logging.getLogger().setLevel(logging.WARNING)
  run(argv)
  return 0


if __name__ == '__main__':
  sys.exit(main())
