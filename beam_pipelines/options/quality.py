"""Quality, schema-drift and run-summary options and their typed config, ``QualityRunConfig``.

    --quality_rules rules.yaml          data-quality rules (transforms/quality); unset: none
    --quality_table P:D.T               per-window scores (default <output_table>_quality;
                                        with --output_path: JSONL files <output_path>_quality)
    --schema_drift dead_letter|evolve|ignore   new input fields (default: --unknown_fields)
    --summary_path run_summary.json     the run summary as JSON (also printed as a table)

The steps it configures (``SchemaDrift``, ``CheckQuality``) are wired by
``beam_pipelines.chain_steps``.
"""

import math
import os
from dataclasses import dataclass
from typing import Optional

from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions

from beam_pipelines.options.common import retry_budget_of, side_table_write_method
from beam_pipelines.options.values import ConfigError, convert
from beam_pipelines.transforms.core.table_spec import parse_table_spec
from beam_pipelines.transforms.quality.config import QualityConfig
from beam_pipelines.transforms.quality.rules_file import load_quality_rules
from beam_pipelines.transforms.validate.schema_drift import DRIFT_MODES, SchemaDriftConfig
from beam_pipelines.transforms.write.bigquery import BigQuerySinkConfig

QUALITY_TABLE_SUFFIX = '_quality'


# Subclasses PipelineOptions directly: Beam registers only direct subclasses.
class QualityOptions(PipelineOptions):
  """``--quality_rules``, ``--quality_table``, ``--schema_drift``, ``--summary_path``."""
  HELP_TITLE = 'Data quality, schema drift and the run summary'  # its group in --help

  @classmethod
  def _add_argparse_args(cls, parser):
    parser.add_argument('--quality_rules', default=None,
                        help='YAML or JSON file of data-quality rules (not_null, range, regex, '
                             'allowed_values, unique, freshness), e.g. gs://my-bucket/rules.yaml. '
                             'Unset: no quality step.')
    parser.add_argument('--quality_table', default=None,
                        help='BigQuery table for per-window quality scores. Defaults to '
                             '<output_table>_quality.')
    parser.add_argument('--schema_drift', default=None,
                        help='Input fields the table schema lacks: dead_letter (errorType '
                             'schema_drift), evolve (add NULLABLE columns, then write; '
                             'STREAMING_INSERTS only) or ignore. Unset: as unknown_fields says.')
    parser.add_argument('--summary_path', default=None,
                        help='Write the run summary as JSON to this path, e.g. '
                             'gs://my-bucket/runs/summary.json.')
    parser.add_argument('--summary_interval_seconds', default='0',
                        help='Streaming: log (and rewrite summary_path) the run summary '
                             'every N seconds while the job runs; 0: only at the end.')


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


def quality_config(options, schema, output_table=None, output_path=None,
                   write_method='STREAMING_INSERTS', temp_location=None,
                   unknown_fields='ignore', streaming=False):
  """QualityOptions -> QualityRunConfig (raises ConfigError naming the option)."""
  opts = options.view_as(QualityOptions)
  project = options.view_as(GoogleCloudOptions).project
  rules = None
  if opts.quality_rules:
    rules = convert('quality_rules', load_quality_rules, opts.quality_rules, schema)
    if streaming and rules.window_seconds is None:
      raise ConfigError('--quality_rules: window_seconds is required in streaming pipelines '
                        '(scores are emitted per window)')
  elif opts.quality_table:
    raise ConfigError('--quality_table needs --quality_rules')
  scores_sink = scores_path = None
  if rules is not None:
    if opts.quality_table:
      convert('quality_table', parse_table_spec, opts.quality_table, 'quality_table')
      table = opts.quality_table
    elif output_table:
      table = default_quality_table(output_table)
    else:
      table = None
    if table:
      method = side_table_write_method(write_method)
      scores_sink = convert('quality_table', BigQuerySinkConfig, table=table,
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
    drift = convert('schema_drift', SchemaDriftConfig, mode=mode, table=output_table,
                     project=project)
  interval = convert('summary_interval_seconds', float, opts.summary_interval_seconds or 0)
  if not (math.isfinite(interval) and interval >= 0):
    raise ConfigError('--summary_interval_seconds must be 0 or a positive number, got '
                      f'{opts.summary_interval_seconds!r}')
  if opts.summary_path:
    convert('summary_path', check_summary_path, opts.summary_path)
  return QualityRunConfig(rules=rules, scores_sink=scores_sink, scores_path=scores_path,
                          drift=drift, summary_path=opts.summary_path,
                          summary_interval_seconds=interval)


def check_summary_path(path):
  """ValueError unless a summary can be written at ``path`` after the run: a local path
  must not be a directory, and its nearest existing folder must be a writable directory
  (missing folders are created when the summary is written). ``scheme://`` paths are left
  to their filesystem."""
  if '://' in path:
    return path
  if os.path.isdir(path):
    raise ValueError(f'{path!r} is a directory; give a file path such as {path}/run.json')
  folder = os.path.dirname(os.path.abspath(path))
  while not os.path.exists(folder):
    folder = os.path.dirname(folder)
  if not os.path.isdir(folder):
    raise ValueError(f'cannot create a folder for {path!r}: {folder!r} is a file')
  if not os.access(folder, os.W_OK | os.X_OK):
    raise ValueError(f'cannot write {path!r}: {folder!r} is not writable')
  return path
