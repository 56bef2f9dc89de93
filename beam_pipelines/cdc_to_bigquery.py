"""cdc_to_bigquery: a change stream (Debezium, Datastream, generic) -> a BigQuery replica, a
change log and an SCD type 2 history, correct under out-of-order and duplicate changes.

    python -m beam_pipelines.cdc_to_bigquery --input 'changes/*.jsonl' \\
        --schema customers.json --primary_key id --output_table my-project:crm.customers \\
        --history_table my-project:crm.customers_history
    python -m beam_pipelines.cdc_to_bigquery \\
        --input_subscription projects/my-project/subscriptions/customers-cdc \\
        --schema customers.json --primary_key id --output_table my-project:crm.customers \\
        --merge_interval 30s

With ``--input`` (files) it runs in batch: reads everything, merges, exits. With
``--input_subscription`` / ``--input_topic`` it streams (BundleBasedDirectRunner unless
``--runner`` says otherwise), merging every ``--merge_interval`` until cancelled (Ctrl-C,
SIGTERM or ``--duration`` seconds). The rules are in docs/cdc.md. A bad option prints one
line naming it and exits with code 2 before anything starts.
"""

import argparse
import logging
import sys

import apache_beam as beam

from beam_pipelines.cdc_chain import CdcOutputs, build_cdc_chain  # noqa: F401 (re-exported)
from beam_pipelines.cdc_config import cdc_to_bigquery_config, is_streaming_argv
from beam_pipelines.options import (CommonOptions, EnrichmentOptions, FileInputOptions,
                                    MaskingOptions, PubSubToBigQueryOptions,
                                    TableLayoutOptions)
from beam_pipelines.options.cdc import CdcToBigQueryOptions
from beam_pipelines.runtime.cdc_summary import format_cdc_summary, run_cdc_summary
from beam_pipelines.runtime.cli import options_and_config
from beam_pipelines.runtime.streaming import RunningPipeline, run_until_stopped

NAME = 'cdc_to_bigquery'
# The options this pipeline reads: its template's metadata.json documents exactly these.
OPTIONS_CLASSES = (CommonOptions, CdcToBigQueryOptions, FileInputOptions,
                   PubSubToBigQueryOptions, MaskingOptions, EnrichmentOptions,
                   TableLayoutOptions)


def build_pipeline(p, cfg):
  """Adds the CDC chain to ``p`` and returns its important outputs (``CdcOutputs``)."""
  return build_cdc_chain(p, cfg)


def config_from_options(options):
  """PipelineOptions -> the validated config (raises ConfigError naming the option)."""
  return cdc_to_bigquery_config(options)


class RunningCdcPipeline(RunningPipeline):
  """A started streaming run whose summary has the change counts."""

  def summary(self):
    return run_cdc_summary(self.result, self.cfg, counters=self.counters())


def _split_duration(argv):
  """Takes our own ``--duration SECONDS`` out of argv (it is not a pipeline option)."""
  parser = argparse.ArgumentParser(add_help=False)
  parser.add_argument('--duration', type=float, default=None)
  known, rest = parser.parse_known_args(argv)
  return known.duration, rest


def pipeline_options(argv):
  """argv -> (PipelineOptions, CdcPipelineConfig); exits 2 naming a bad option."""
  streaming = is_streaming_argv(argv)
  return options_and_config(argv, NAME, 'BundleBasedDirectRunner' if streaming else
                            'FnApiRunner', config_from_options, streaming=streaming)


def start(argv):
  """Builds and starts a streaming run without waiting; returns a RunningCdcPipeline."""
  options, cfg = pipeline_options(argv)
  p = beam.Pipeline(options=options)
  outputs = build_pipeline(p, cfg)
  return RunningCdcPipeline(p, p.run(), cfg, outputs)


def run(argv=None, print_summary=True):
  """Runs a batch to completion, or a stream until stopped; returns (result, summary)."""
  duration, argv = _split_duration(list(sys.argv[1:] if argv is None else argv))
  if is_streaming_argv(argv):
    running = start(argv)
    state = run_until_stopped(running, duration)
    result, summary = running.result, running.summary()
    summary['final_state'] = str(state)
  else:
    options, cfg = pipeline_options(argv)
    with beam.Pipeline(options=options) as p:
      build_pipeline(p, cfg)
    result = p.result
    summary = run_cdc_summary(result, cfg)
    running = None
  if print_summary:
    print(format_cdc_summary(summary, f'{NAME} summary'))
  if running is not None and running.error is not None:
    raise running.error
  return result, summary


if __name__ == '__main__':
  logging.getLogger().setLevel(logging.WARNING)
  run()
