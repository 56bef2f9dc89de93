"""Running a streaming pipeline locally: start it, watch it, stop it, summarise it.

``RunningPipeline`` wraps a started pipeline's result (the summary at any time, a clean
cancel, the error that failed it); ``run_until_stopped`` waits for Ctrl-C, SIGTERM, a
duration or the pipeline's own end, keeping the periodic summary going meanwhile.
"""

import logging
import signal
import threading
import time

from apache_beam.runners.runner import PipelineState

from beam_pipelines.runtime.closing import (close_run, complete_summary, console_text,
                                            write_outputs)
from beam_pipelines.runtime.runners import runs_here
from beam_pipelines.runtime.summary import (PeriodicSummary, build_summary, collect_counters,
                                            finish_summary, format_summary, job_summary,
                                            metric_extras, write_summary)

_LOG = logging.getLogger(__name__)


class RunningPipeline:
  """A started streaming pipeline: ``summary()`` any time, ``cancel()`` to stop it.

  ``result.state`` turns FAILED when a step fails for good, and ``error`` is its exception.
  The BundleBasedDirectRunner does not do that by itself: after a step's last retry fails
  (Beam logs "Giving up after 4 attempts") the pipeline stops making progress but its result
  stays RUNNING until someone calls ``wait_until_finish()``; a watcher thread does.
  """

  def __init__(self, pipeline, result, cfg, outputs, options=None):
    self.pipeline = pipeline
    self.result = result
    self.cfg = cfg
    self.outputs = outputs
    self.options = options  # the PipelineOptions it runs with
    self.started = time.monotonic()
    self.started_at = time.time()  # wall clock: what the report reads back starts here
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
    summary.update(metric_extras(self.result, self.cfg))
    return finish_summary(summary)

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

  summary = build_summary(counters, extra={
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
  notified = {name: value for (namespace, name), value in counters.items()
              if namespace == 'notifications'}
  if notified:  # files_to_bigquery --input_notifications: what the notifications named
    summary['notifications'] = notified
  return summary


def run_until_stopped(running, duration=None):
  """Waits until Ctrl-C / SIGTERM, ``duration`` seconds, or the pipeline's own end; rewrites
  the periodic summary (``--summary_interval_seconds``) meanwhile; cancels the pipeline and
  returns its final state."""
  cfg = running.cfg
  periodic = None
  if cfg.quality.summary_interval_seconds > 0:
    title = f'{cfg.pipeline_name} summary (running)'
    periodic = PeriodicSummary(
        running.result, cfg.quality.summary_interval_seconds, title,
        summarize=lambda: complete_summary(running.summary(), cfg, running.started_at),
        after=lambda summary: write_outputs(summary, cfg, title),
        formatter=lambda summary, title: console_text(summary, cfg, title),
        log=_LOG.warning).__enter__()
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
  return state


def stream_until_stopped(running, duration=None, print_summary=True):
  """A started streaming job to its summary: on a local runner, runs it until stopped
  (``run_until_stopped``) and closes the run (summary, report); on Dataflow or a dry run it
  does not wait: the summary says what is known of the job, which keeps running. Raises the
  error that failed the job, after the summary."""
  title = f'{running.cfg.pipeline_name} summary'
  if runs_here(running.options):
    state = run_until_stopped(running, duration)
    summary = running.summary()
    summary['final_state'] = str(state)
    close_run(summary, running.cfg, running.started_at, title, print_summary)
  else:
    summary = job_summary(running.result, running.cfg, running.options)
    if print_summary:
      print(format_summary(summary, title))
    if running.cfg.quality.summary_path:
      write_summary(summary, running.cfg.quality.summary_path)
  if running.error is not None:
    raise running.error  # e.g. Pub/Sub pulls failing past --pubsub_pull_grace: exit non-zero
  return summary
