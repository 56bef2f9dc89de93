"""files_to_bigquery: files (JSONL, CSV, Avro, Parquet) -> validated rows in BigQuery (or
in JSONL/Avro/Parquet files with ``--output_path``), bad records as dead letters.

    python -m beam_pipelines.files_to_bigquery --input 'data/*.jsonl' \\
        --schema schema.json --output_table my-project:ds.events

The chain (``beam_pipelines.chain``) is the one ``pubsub_to_bigquery`` runs: parse and
validate, optional masking, enrichment and windowed aggregation, one dead-letter writer.
Runs on the FnApiRunner unless ``--runner`` says otherwise (with one worker process per core
for a large local input, see ``beam_pipelines.runtime.local_parallelism``), and honours
``BIGQUERY_EMULATOR_HOST`` for every BigQuery call.
"""

import logging
import sys
import time

import apache_beam as beam

from beam_pipelines.chain import PipelineOutputs, build_chain  # noqa: F401  (re-exported)
from beam_pipelines.config import files_to_bigquery_config
from beam_pipelines.options import (CommonOptions, EnrichmentOptions, FileInputOptions,
                                    FilesToBigQueryOptions, LoadOptions, MaskingOptions,
                                    MonitoringOptions, QualityOptions, TableLayoutOptions,
                                    UdfOptions, WindowingOptions)
from beam_pipelines.runtime.cli import PipelineCli, option_errors_while_building, options_and_config
from beam_pipelines.runtime.local_parallelism import use_local_cores
from beam_pipelines.runtime.closing import close_run, fail_on_alert
from beam_pipelines.runtime.summary import run_summary

_LOG = logging.getLogger(__name__)
NAME = 'files_to_bigquery'
# The options this pipeline reads: its template's metadata.json documents exactly these.
OPTIONS_CLASSES = (CommonOptions, FileInputOptions, FilesToBigQueryOptions, LoadOptions,
                   MaskingOptions, EnrichmentOptions, WindowingOptions, QualityOptions,
                   UdfOptions, TableLayoutOptions, MonitoringOptions)


def build_pipeline(p, cfg):
  """Adds the files -> BigQuery chain to ``p`` and returns its important outputs."""
  return build_chain(p, cfg)


def config_from_options(options):
  """PipelineOptions -> the validated config (raises ConfigError naming the option)."""
  return files_to_bigquery_config(options)


def _inputs(cfg):
  return [] if cfg.source.allow_empty_match else [('input', cfg.source.pattern)]


CLI = PipelineCli(NAME, __doc__, OPTIONS_CLASSES, runner='FnApiRunner', inputs=_inputs)


def run(argv=None, print_summary=True):
  """Parses argv, runs the pipeline to completion and returns (result, summary).

  Prints the short summary (every counter with ``--verbose``), writes ``--report_path`` and
  ``--summary_path``; with ``--fail_on_alert`` and an alert raised, exits with code 3
  (``SystemExit``) after all of that."""
  argv = list(sys.argv[1:] if argv is None else argv)
  options, cfg = options_and_config(argv, NAME, CLI.runner, config_from_options, cli=CLI)
  use_local_cores(options, argv, cfg.source)
  started = time.time()
  with beam.Pipeline(options=options) as p:
    with option_errors_while_building(NAME):
      build_pipeline(p, cfg)
  result = p.result
  # counters, quality scores, sources/sinks, lineage; or, where the runner has no metrics
  # (a dry run, a job not waited for), what is known of the job
  summary = run_summary(result, cfg, options)
  close_run(summary, cfg, started, f'{cfg.pipeline_name} summary', print_summary)
  fail_on_alert(summary, cfg, NAME)
  return result, summary


def main(argv=None):
  """``python -m beam_pipelines.files_to_bigquery`` and ``beam-pipelines files-to-bigquery``."""
  logging.getLogger().setLevel(logging.WARNING)
  run(argv)
  return 0


if __name__ == '__main__':
  sys.exit(main())
