"""files_to_bigquery: files (JSONL, CSV, Avro, Parquet) -> validated rows in BigQuery (or
in JSONL/Avro/Parquet files with ``--output_path``), bad records as dead letters.

    python -m beam_pipelines.files_to_bigquery --input 'data/*.jsonl' \\
        --schema schema.json --output_table my-project:ds.events

The chain (``beam_pipelines.chain``) is the one ``pubsub_to_bigquery`` runs: parse and
validate, optional masking, enrichment and windowed aggregation, one dead-letter writer.
Runs on the FnApiRunner unless ``--runner`` says otherwise (with one worker process per core
for a large local input, see ``beam_pipelines.runtime.local_parallelism``), and honours
``BIGQUERY_EMULATOR_HOST`` for every BigQuery call.

With ``--watch_interval 30s`` it keeps watching ``--input`` and loads each new file as it
appears, exactly once across restarts, until Ctrl-C, SIGTERM or ``--duration``
(``beam_pipelines.runtime.watching``).
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
from beam_pipelines.options.values import ConfigError
from beam_pipelines.runtime.cli import (PipelineCli, fail, option_errors_while_building,
                                         options_and_config)
from beam_pipelines.runtime.local_parallelism import use_local_cores
from beam_pipelines.runtime.closing import close_run, fail_on_alert
from beam_pipelines.runtime.summary import run_summary
from beam_pipelines.runtime.watching import WATCH_FLAGS, watch, watch_plan, watched_config

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


CLI = PipelineCli(NAME, __doc__, OPTIONS_CLASSES, runner='FnApiRunner', inputs=_inputs,
                  run_flags=WATCH_FLAGS)


def _run_pipeline(options, cfg):
  with beam.Pipeline(options=options) as p:
    with option_errors_while_building(NAME):
      build_pipeline(p, cfg)
  return p.result


def run(argv=None, print_summary=True):
  """Parses argv, runs the pipeline to completion and returns (result, summary).

  Prints the short summary (every counter with ``--verbose``), writes ``--report_path`` and
  ``--summary_path``; with ``--fail_on_alert`` and an alert raised, exits with code 3
  (``SystemExit``) after all of that. With ``--watch_interval`` it polls until stopped and
  the summary adds up the polls (``summary['watch']``); a failed poll ends the watch with
  its error, after the summary."""
  argv = list(sys.argv[1:] if argv is None else argv)
  try:
    plan, argv = watch_plan(argv)
  except ConfigError as e:
    fail(NAME, str(e))
  if plan is not None:
    return _watch(argv, plan, print_summary)
  options, cfg = options_and_config(argv, NAME, CLI.runner, config_from_options, cli=CLI)
  use_local_cores(options, argv, cfg.source)
  started = time.time()
  result = _run_pipeline(options, cfg)
  # counters, quality scores, sources/sinks, lineage; or, where the runner has no metrics
  # (a dry run, a job not waited for), what is known of the job
  summary = run_summary(result, cfg, options)
  close_run(summary, cfg, started, f'{cfg.pipeline_name} summary', print_summary)
  fail_on_alert(summary, cfg, NAME)
  return result, summary


def _watch(argv, plan, print_summary):
  options, cfg = options_and_config(
      argv, NAME, CLI.runner,
      lambda options: watched_config(config_from_options(options), plan, options), cli=CLI)
  started = time.time()
  watched = watch(lambda poll_cfg: _run_pipeline(options, poll_cfg), cfg, plan)
  summary = watched.summary
  close_run(summary, cfg, started, f'{cfg.pipeline_name} summary', print_summary)
  if watched.error is not None:
    raise watched.error
  fail_on_alert(summary, cfg, NAME)
  return watched.last_result, summary


def main(argv=None):
  """``python -m beam_pipelines.files_to_bigquery`` and ``beam-pipelines files-to-bigquery``."""
  logging.getLogger().setLevel(logging.WARNING)
  run(argv)
  return 0


if __name__ == '__main__':
  sys.exit(main())
