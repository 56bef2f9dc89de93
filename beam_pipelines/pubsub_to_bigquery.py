"""pubsub_to_bigquery: Pub/Sub -> validated rows (and optional windowed aggregates) in BigQuery.

    python -m beam_pipelines.pubsub_to_bigquery \\
        --input_subscription projects/my-project/subscriptions/events \\
        --schema schema.json --output_table my-project:ds.events \\
        --id_attribute event_id --timestamp_attribute event_ts \\
        --window fixed --window_size 1m --aggregate_keys event_type --aggregate_sum quantity

The same chain as ``files_to_bigquery`` (``beam_pipelines.chain.build_chain``); only the
source differs. Streaming, on the BundleBasedDirectRunner unless ``--runner`` says otherwise.
Runs until cancelled (Ctrl-C, or ``--duration`` seconds), then prints the run summary; if a
step fails for good (e.g. Pub/Sub pulls failing past ``--pubsub_pull_grace``) it prints the
summary and raises that error (exit code 1). A bad option prints one line naming it and exits
with code 2 before anything starts.
"""

import logging
import sys

import apache_beam as beam

from beam_pipelines.chain import build_chain
from beam_pipelines.config import pubsub_to_bigquery_config
from beam_pipelines.options import (BatchingOptions, CommonOptions, EnrichmentOptions, MaskingOptions,
                                    MonitoringOptions, PubSubToBigQueryOptions, QualityOptions,
                                    TableLayoutOptions, UdfOptions, WindowingOptions)
from beam_pipelines.options.values import ConfigError
from beam_pipelines.runtime.cli import (PipelineCli, fail, option_errors_while_building,
                                         options_and_config)
from beam_pipelines.runtime.run_flags import positive_seconds, take_flag
from beam_pipelines.runtime.streaming import (  # noqa: F401  (streaming_summary: re-exported)
  RunningPipeline,
  stream_until_stopped,
  streaming_summary,
)

NAME = 'pubsub_to_bigquery'
STREAMING = True
# The options this pipeline reads: its template's metadata.json documents exactly these.
OPTIONS_CLASSES = (CommonOptions, PubSubToBigQueryOptions, WindowingOptions, MaskingOptions,
                   EnrichmentOptions, QualityOptions, UdfOptions, TableLayoutOptions,
                   MonitoringOptions, BatchingOptions)


def build_pipeline(p, cfg):
  """Adds the Pub/Sub -> BigQuery chain to ``p`` and returns its important outputs."""
  return build_chain(p, cfg)


def config_from_options(options):
  """PipelineOptions -> the validated config (raises ConfigError naming the option)."""
  return pubsub_to_bigquery_config(options)


CLI = PipelineCli(NAME, __doc__, OPTIONS_CLASSES, runner='BundleBasedDirectRunner',
                  run_flags=(('duration', 'SECONDS',
                              'Local runners: stop after this many seconds (default: run until '
                              'Ctrl-C or SIGTERM). On Dataflow the job keeps running: the '
                              'command prints its id and returns.'),))


def pipeline_options(argv):
  """argv -> (PipelineOptions, PipelineConfig); exits 2 naming a bad option."""
  return options_and_config(argv, NAME, CLI.runner, config_from_options, streaming=True,
                            cli=CLI)


def _split_duration(argv):
  """Takes our own ``--duration SECONDS`` out of argv (it is not a pipeline option)."""
  value, rest = take_flag(argv, 'duration')
  return (None if value is None else positive_seconds(value, 'duration')), rest


def start(argv):
  """Builds and starts the pipeline without waiting; returns a RunningPipeline."""
  options, cfg = pipeline_options(argv)
  p = beam.Pipeline(options=options)
  with option_errors_while_building(NAME):
    outputs = build_pipeline(p, cfg)
  return RunningPipeline(p, p.run(), cfg, outputs, options)


def run(argv=None, print_summary=True):
  """Runs until Ctrl-C / SIGTERM or ``--duration`` seconds, cancels, returns the summary.

  On a runner that runs the job elsewhere (Dataflow), or a dry run, it does not wait: the
  summary says what is known of the job (its id, a console link) and the job keeps running.
  """
  try:
    duration, argv = _split_duration(list(sys.argv[1:] if argv is None else argv))
  except ConfigError as e:
    fail(NAME, str(e))
  running = start(argv)
  summary = stream_until_stopped(running, duration, print_summary)
  return running.result, summary


def main(argv=None):
  """``python -m beam_pipelines.pubsub_to_bigquery`` and ``beam-pipelines pubsub-to-bigquery``."""
  logging.getLogger().setLevel(logging.WARNING)
  run(argv)
  return 0


if __name__ == '__main__':
  sys.exit(main())
