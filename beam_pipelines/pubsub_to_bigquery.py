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

import argparse
import logging
import signal
import sys
import threading
import time

import apache_beam as beam
from apache_beam.runners.runner import PipelineState

from beam_pipelines import options as opts
from beam_pipelines import streaming_options as sopts
from beam_pipelines.chain import build_chain
from beam_pipelines.enrichment_options import EnrichmentOptions
from beam_pipelines.masking_options import MaskingOptions
from beam_pipelines.udf_options import UdfOptions
from beam_pipelines.direct_runner_metrics import fix_direct_runner_metrics
from beam_pipelines.direct_runner_speedups import speed_up_direct_runner
from beam_pipelines.quality_options import QualityOptions
from beam_pipelines.summary import (PeriodicSummary, build_summary, collect_counters,
                                    collect_lineage, config_io, format_summary,
                                    write_summary)

_LOG = logging.getLogger(__name__)
NAME = 'pubsub_to_bigquery'
STREAMING = True
# The options this pipeline reads: its template's metadata.json documents exactly these.
OPTIONS_CLASSES = (opts.CommonOptions, sopts.PubSubToBigQueryOptions, sopts.WindowingOptions,
                   MaskingOptions, EnrichmentOptions, QualityOptions, UdfOptions)


def build_pipeline(p, cfg):
  """Adds the Pub/Sub -> BigQuery chain to ``p`` and returns its important outputs."""
  return build_chain(p, cfg)


def _split_duration(argv):
  """Takes our own ``--duration SECONDS`` out of argv (it is not a pipeline option)."""
  parser = argparse.ArgumentParser(add_help=False)
  parser.add_argument('--duration', type=float, default=None)
  known, rest = parser.parse_known_args(argv)
  return known.duration, rest


def pipeline_options(argv):
  """argv -> (PipelineOptions, PubSubToBigQueryConfig); exits 2 naming a bad option."""
  return opts.options_and_config(argv, NAME, 'BundleBasedDirectRunner',
                                 config_from_options, streaming=True)


def config_from_options(options):
  """PipelineOptions -> the validated config (raises ConfigError naming the option)."""
  return sopts.pubsub_to_bigquery_config(options)


class RunningPipeline:
  """A started streaming pipeline: ``summary()`` any time, ``cancel()`` to stop it.

  ``result.state`` turns FAILED when a step fails for good, and ``error`` is its exception.
  The BundleBasedDirectRunner does not do that by itself: after a step's last retry fails
  (Beam logs "Giving up after 4 attempts") the pipeline stops making progress but its result
  stays RUNNING until someone calls ``wait_until_finish()``; a watcher thread does.
  """

  def __init__(self, pipeline, result, cfg, outputs):
    self.pipeline = pipeline
    self.result = result
    self.cfg = cfg
    self.outputs = outputs
    self.started = time.monotonic()
    self._error = None
    self._cancelled = False
    self._watcher = None
    from apache_beam.runners.direct.direct_runner import DirectPipelineResult
    if isinstance(result, DirectPipelineResult):
      self._watcher = threading.Thread(target=self._watch, name='pipeline-watcher',
                                       daemon=True)
      self._watcher.start()

  def _watch(self):
    try:
      self.result.wait_until_finish()  # blocks until the pipeline fails or finishes
    except Exception as e:  # pylint: disable=broad-except
      if not self._cancelled:  # a cancelled run is not a failed one
        self._error = e

  @property
  def error(self):
    """The exception that failed the run, or None."""
    if self.result.state == PipelineState.FAILED and self._watcher is not None:
      self._watcher.join(timeout=5)  # the state is set just before the exception is kept
    return self._error

  def counters(self):
    return collect_counters(self.result)

  def summary(self):
    summary = streaming_summary(self.counters())
    summary['sources'], summary['sinks'] = config_io(self.cfg)
    summary['lineage'] = collect_lineage(self.result)
    return summary

  def cancel(self):
    """Stops the pipeline (idempotent); returns its final state."""
    if not PipelineState.is_terminal(self.result.state):
      self._cancelled = True
      self.result.cancel()
    return self.result.state


def streaming_summary(counters):
  """build_summary plus what a streaming run adds: messages read, duplicates, windows."""
  def get(namespace, name):
    return counters.get((namespace, name), 0)

  return build_summary(counters, extra={
      'messages_read': get('read', 'records') + get('dedup', 'duplicates'),
      'duplicates_removed': get('dedup', 'duplicates'),
      'windows_emitted': get('window', 'panes_emitted'),
      'aggregate_rows_written': (get('sink', 'aggregates_attempted')
                                 - get('sink', 'aggregates_failed')),
      'late_data': get('window', 'late_data'),
      # Rows that are in the rows table but also dead-lettered by the window stage (late, or
      # no event time): subtract them when checking messages == rows + dead letters + dups.
      'aggregation_exclusions': get('window', 'late_data') + get('window', 'invalid_event_time'),
  })


def start(argv):
  """Builds and starts the pipeline without waiting; returns a RunningPipeline."""
  options, cfg = pipeline_options(argv)
  fix_direct_runner_metrics()  # exact counters on the BundleBasedDirectRunner
  speed_up_direct_runner()  # per-bundle DoFn inspection: ~45% of the runner's CPU (profile)
  p = beam.Pipeline(options=options)
  outputs = build_pipeline(p, cfg)
  result = p.run()
  return RunningPipeline(p, result, cfg, outputs)


def run(argv=None, print_summary=True):
  """Runs until Ctrl-C / SIGTERM or ``--duration`` seconds, cancels, returns the summary."""
  argv = list(sys.argv[1:] if argv is None else argv)
  duration, argv = _split_duration(argv)
  running = start(argv)
  quality = running.cfg.quality
  periodic = None
  if quality is not None and quality.summary_interval_seconds > 0:  # --summary_interval_seconds
    periodic = PeriodicSummary(
        running.result, quality.summary_interval_seconds,
        f'{running.cfg.pipeline_name} summary (running)', path=quality.summary_path,
        summarize=running.summary, log=_LOG.warning).__enter__()
  stop = threading.Event()
  if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
  try:
    deadline = None if duration is None else time.monotonic() + duration
    while not stop.is_set() and not PipelineState.is_terminal(running.result.state):
      if deadline is not None and time.monotonic() >= deadline:
        break
      stop.wait(0.5)
  except KeyboardInterrupt:
    pass
  finally:
    if periodic is not None:
      periodic.__exit__(None, None, None)
    state = running.cancel()
  summary = running.summary()
  summary['final_state'] = str(state)
  if print_summary:
    print(format_summary(summary, f'{running.cfg.pipeline_name} summary'))
  if quality is not None and quality.summary_path:
    write_summary(summary, quality.summary_path)
  if running.error is not None:
    raise running.error  # e.g. Pub/Sub pulls failing past --pubsub_pull_grace: exit non-zero
  return running.result, summary


if __name__ == '__main__':
  logging.getLogger().setLevel(logging.WARNING)
  run()
