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
(``beam_pipelines.runtime.watching``: a loop of batch runs). With ``--input_notifications
projects/P/subscriptions/S`` it is one streaming job instead, loading the files Cloud Storage
notifications name, one commit per ``--commit_interval`` (on the BundleBasedDirectRunner
locally, or Dataflow; with ``--watch_interval`` too, this process publishes the
notifications for a local folder: ``beam_pipelines.runtime.notify_local``).
"""

import logging
import sys
import time

import apache_beam as beam

from beam_pipelines.chain import PipelineOutputs, build_chain  # noqa: F401  (re-exported)
from beam_pipelines.config import files_to_bigquery_config
from beam_pipelines.options import (BatchingOptions, CommonOptions, EnrichmentOptions, FileInputOptions,
                                    FileNotificationOptions, FilesToBigQueryOptions,
                                    LoadOptions, MaskingOptions,
                                    MonitoringOptions, QualityOptions, TableLayoutOptions,
                                    UdfOptions, WindowingOptions)
from beam_pipelines.options.values import ConfigError
from beam_pipelines.runtime.cli import (PipelineCli, fail, option_errors_while_building,
                                         options_and_config)
from beam_pipelines.runtime.local_parallelism import use_local_cores
from beam_pipelines.runtime.notify_local import LocalNotifier
from beam_pipelines.runtime.runners import runs_here
from beam_pipelines.runtime.streaming import RunningPipeline, stream_until_stopped
from beam_pipelines.runtime.closing import close_run, fail_on_alert
from beam_pipelines.runtime.summary import run_summary
from beam_pipelines.runtime.watching import (WATCH_FLAGS, notified_config, watch, watch_plan,
                                             watched_config)

_LOG = logging.getLogger(__name__)
NAME = 'files_to_bigquery'
# The options this pipeline reads: its template's metadata.json documents exactly these.
OPTIONS_CLASSES = (CommonOptions, FileInputOptions, FilesToBigQueryOptions, LoadOptions,
                   FileNotificationOptions, MaskingOptions, EnrichmentOptions, WindowingOptions, QualityOptions,
                   UdfOptions, TableLayoutOptions, MonitoringOptions, BatchingOptions)


def build_pipeline(p, cfg):
  """Adds the files -> BigQuery chain to ``p`` and returns its important outputs."""
  return build_chain(p, cfg)


def config_from_options(options):
  """PipelineOptions -> the validated config (raises ConfigError naming the option)."""
  return files_to_bigquery_config(options)


def _inputs(cfg):
  if cfg.source.allow_empty_match or cfg.notifications is not None:
    return []  # a watched folder may be empty at start
  return [('input', cfg.source.pattern)]


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
  notified = any(a.startswith('--input_notifications') for a in argv)
  try:
    plan, argv = watch_plan(argv, streaming=notified)
  except ConfigError as e:
    fail(NAME, str(e))
  if notified:
    return _stream(argv, plan, print_summary)
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


def _stream(argv, plan, print_summary):
  """``--input_notifications``: one streaming job until stopped (``--duration``, Ctrl-C,
  SIGTERM); with ``--watch_interval`` this process publishes the notifications too."""
  options, cfg = options_and_config(
      argv, NAME, 'BundleBasedDirectRunner',
      lambda options: notified_config(config_from_options(options), plan, options),
      streaming=True, cli=CLI)
  p = beam.Pipeline(options=options)
  with option_errors_while_building(NAME):
    outputs = build_pipeline(p, cfg)
  notifier = None
  if plan.interval_seconds is not None and runs_here(options):
    notifier = LocalNotifier(cfg.source.pattern, cfg.notifications.subscription,
                             plan.interval_seconds)
    notifier.prime()  # before the job's catch-up match: no file falls between the two
  running = RunningPipeline(p, p.run(), cfg, outputs, options)
  try:
    if notifier is not None:
      notifier.start()
    summary = stream_until_stopped(running, plan.duration_seconds, print_summary)
  finally:
    if notifier is not None:
      notifier.stop()
  return running.result, summary


def main(argv=None):
  """``python -m beam_pipelines.files_to_bigquery`` and ``beam-pipelines files-to-bigquery``."""
  logging.getLogger().setLevel(logging.WARNING)
  run(argv)
  return 0


if __name__ == '__main__':
  sys.exit(main())
