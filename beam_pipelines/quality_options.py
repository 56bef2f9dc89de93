"""Quality, schema-drift and run-summary options, their typed config and wiring helpers.

    --quality_rules rules.yaml          data-quality rules (transforms/quality); unset: none
    --quality_table P:D.T               per-window scores (default <output_table>_quality;
                                        with --output_path: JSONL files <output_path>_quality)
    --schema_drift dead_letter|evolve|ignore   new input fields (default: --unknown_fields)
    --summary_path run_summary.json     the run summary as JSON (also printed as a table)

A pipeline adds them with a few calls (see ``files_to_bigquery.build_pipeline``)::

    parse = parse_config(cfg.parse, cfg.quality)                       # drift-aware policy
    parsed = messages | 'ParseAndValidate' >> ParseAndValidate(cfg.schema, parse)
    drift = apply_drift(parsed, cfg.quality, cfg.schema, parse, name)  # 'SchemaDrift'
    ...
    checked = apply_quality(rows, cfg.quality, name)                   # 'CheckQuality'
"""

from dataclasses import dataclass, replace
from typing import Optional

import apache_beam as beam
from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions

from transforms.errors import FallibleResult
from transforms.quality import CheckQuality, QualityConfig, load_quality_rules
from transforms.quality.config import quality_output_schema
from transforms.quality.scores import quality_table_schema
from transforms.schema_drift import (DRIFT_MODES, HandleSchemaDrift, SchemaDriftConfig,
                                     drift_policy)
from transforms.sinks import BigQuerySinkConfig, WriteRowsToBigQuery, parse_table_spec

QUALITY_TABLE_SUFFIX = '_quality'


# Subclasses PipelineOptions directly: Beam registers only direct subclasses.
class QualityOptions(PipelineOptions):
  """``--quality_rules``, ``--quality_table``, ``--schema_drift``, ``--summary_path``."""

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--quality_rules', default=None,
                        help='Data-quality rules file (YAML or JSON). Unset: no quality step.')
    parser.add_argument('--quality_table', default=None,
                        help='Table for per-window quality scores (default '
                             '<output_table>_quality).')
    parser.add_argument('--schema_drift', default=None,
                        help=f'Input fields the table schema lacks: {"|".join(DRIFT_MODES)} '
                             '(default: as --unknown_fields says).')
    parser.add_argument('--summary_path', default=None,
                        help='Write the run summary as JSON to this path.')
    parser.add_argument('--summary_interval_seconds', default='0',
                        help='Streaming: log (and rewrite --summary_path) the run summary '
                             'every N seconds while the job runs (0: only at the end).')


@dataclass(frozen=True)
class QualityRunConfig:
  """Quality, drift and summary settings of one run, validated."""
  rules: Optional[QualityConfig] = None
  scores_sink: Optional[BigQuerySinkConfig] = None   # the quality table
  scores_path: Optional[str] = None                  # or JSONL files (lake runs)
  drift: SchemaDriftConfig = SchemaDriftConfig()
  summary_path: Optional[str] = None
  summary_interval_seconds: float = 0

  @property
  def scores_destination(self):
    if self.scores_sink is not None:
      return self.scores_sink.table
    return self.scores_path


def default_quality_table(output_table):
  parse_table_spec(output_table, 'output_table')
  return output_table + QUALITY_TABLE_SUFFIX


def quality_stage_config(options, schema, masking=None, enrichment=None, sink=None,
                         lake=None):
  """QualityRunConfig for a pipeline of the shared chain: rules are checked against the
  rows as written (masked, then enriched)."""
  from apache_beam.options.pipeline_options import StandardOptions
  from beam_pipelines.chain import processed_schema
  from beam_pipelines.options import CommonOptions, temp_location_of
  return quality_config(
      options, processed_schema(schema, masking, enrichment),
      output_table=sink.table if sink is not None else None,
      output_path=lake.path if lake is not None else None,
      write_method=sink.write_method if sink is not None else 'STREAMING_INSERTS',
      temp_location=temp_location_of(options),
      unknown_fields=options.view_as(CommonOptions).unknown_fields,
      streaming=bool(options.view_as(StandardOptions).streaming))


def quality_config(options, schema, output_table=None, output_path=None,
                   write_method='STREAMING_INSERTS', temp_location=None,
                   unknown_fields='ignore', streaming=False):
  """QualityOptions -> QualityRunConfig (raises ConfigError naming the option)."""
  from beam_pipelines.options import ConfigError, _convert, retry_budget_of
  opts = options.view_as(QualityOptions)
  project = options.view_as(GoogleCloudOptions).project
  rules = None
  if opts.quality_rules:
    rules = _convert('quality_rules', load_quality_rules, opts.quality_rules, schema)
    if streaming and rules.window_seconds is None:
      raise ConfigError('--quality_rules: window_seconds is required in streaming pipelines '
                        '(scores are emitted per window)')
  elif opts.quality_table:
    raise ConfigError('--quality_table needs --quality_rules')
  scores_sink = scores_path = None
  if rules is not None:
    if opts.quality_table:
      _convert('quality_table', parse_table_spec, opts.quality_table, 'quality_table')
      table = opts.quality_table
    elif output_table:
      table = default_quality_table(output_table)
    else:
      table = None
    if table:
      method = 'FILE_LOADS' if write_method == 'FILE_LOADS' else 'STREAMING_INSERTS'
      scores_sink = _convert('quality_table', BigQuerySinkConfig, table=table,
                             write_method=method, temp_location=temp_location,
                             retry_budget_seconds=retry_budget_of(options))
    else:
      scores_path = output_path.rstrip('/') + QUALITY_TABLE_SUFFIX
  mode = opts.schema_drift
  if mode is None:
    drift = SchemaDriftConfig('ignore')
  else:
    if mode not in DRIFT_MODES:
      raise ConfigError(f'--schema_drift must be one of {"|".join(DRIFT_MODES)}, got {mode!r}')
    if unknown_fields == 'dead_letter':
      raise ConfigError('--schema_drift and --unknown_fields dead_letter are exclusive: '
                        '--schema_drift decides what happens to new fields')
    if mode == 'evolve':
      if not output_table:
        raise ConfigError('--schema_drift evolve needs --output_table (a BigQuery table to '
                          'add columns to)')
      if write_method != 'STREAMING_INSERTS':
        raise ConfigError('--schema_drift evolve needs --write_method STREAMING_INSERTS '
                          '(load jobs carry a fixed schema)')
    drift = _convert('schema_drift', SchemaDriftConfig, mode=mode, table=output_table,
                     project=project)
  interval = _convert('summary_interval_seconds', float, opts.summary_interval_seconds or 0)
  if not interval >= 0:
    raise ConfigError('--summary_interval_seconds must be 0 or positive, got '
                      f'{opts.summary_interval_seconds!r}')
  return QualityRunConfig(rules=rules, scores_sink=scores_sink, scores_path=scores_path,
                          drift=drift, summary_path=opts.summary_path,
                          summary_interval_seconds=interval)


def parse_config(parse, quality):
  """The ParseConfig to validate with: its policy reports new fields as ``schema_drift``
  when ``--schema_drift`` is dead_letter or evolve."""
  if quality is None or quality.drift.mode == 'ignore':
    return parse
  return replace(parse, policy=drift_policy(parse.policy, quality.drift.mode))


def apply_drift(parsed, quality, schema, parse, pipeline_name=None):
  """Adds the 'SchemaDrift' step (dead_letter / evolve modes) to ParseAndValidate's result.

  Returns a FallibleResult: all rows to continue with (validated + evolved) and all dead
  letters of ParseAndValidate and the drift step. Identity without drift handling."""
  if quality is None or quality.drift.mode == 'ignore':
    return FallibleResult(rows=parsed.rows, dead_letters=parsed.dead_letters)
  drift = parsed.dead_letters | 'SchemaDrift' >> HandleSchemaDrift(
      quality.drift, schema, parse, pipeline_name=pipeline_name)
  if quality.drift.mode != 'evolve':
    return FallibleResult(rows=parsed.rows, dead_letters=drift.dead_letters)
  rows = (parsed.rows, drift.rows) | 'WithEvolvedRows' >> beam.Flatten()
  return FallibleResult(rows=rows, dead_letters=drift.dead_letters)


def with_quality_columns(quality, schema):
  """The output table schema: plus the quality ``flag_field`` column when configured."""
  if quality is None or quality.rules is None:
    return schema
  return quality_output_schema(schema, quality.rules)


def apply_quality(rows, quality, pipeline_name=None):
  """Adds 'CheckQuality' and 'WriteQualityScores' when rules are configured.

  Returns a FallibleResult (rows to write, quality dead letters); without rules the rows
  unchanged and ``dead_letters=None`` (no step)."""
  if quality is None or quality.rules is None:
    return FallibleResult(rows=rows, dead_letters=None)
  checked = rows | 'CheckQuality' >> CheckQuality(quality.rules, pipeline_name=pipeline_name)
  if quality.scores_sink is not None:
    failed = checked.scores | 'WriteQualityScores' >> WriteRowsToBigQuery(
        quality.scores_sink, quality_table_schema(), pipeline_name=pipeline_name,
        metric_name='quality_scores')
    # Score rows are not records: a rejected one is logged and counted
    # (sink/quality_scores_failed), never mixed into the dead letters.
    _ = failed | 'LogRejectedScores' >> beam.Map(_log_rejected_score)
  else:
    import json
    _ = (checked.scores
         | 'QualityScoresToJson' >> beam.Map(lambda r: json.dumps(r, sort_keys=True))
         | 'WriteQualityScores' >> beam.io.WriteToText(quality.scores_path,
                                                       file_name_suffix='.jsonl'))
  return FallibleResult(rows=checked.rows, dead_letters=checked.dead_letters)


def _log_rejected_score(record):
  import logging
  logging.getLogger(__name__).error('quality score row rejected by BigQuery: %s',
                                    record.get('errorMessage'))
  return record
