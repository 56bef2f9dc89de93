"""Watching an input pattern: ``files_to_bigquery --watch_interval 30s`` loads each new file
as it appears, exactly once across restarts, until stopped (Ctrl-C, SIGTERM, ``--duration``).

Each *poll* is one ``--load_mode incremental`` run of the same chain (masking, enrichment,
windowing, quality apply), with a run id of its own: it matches the pattern, reads the
manifest, reads the files it does not list and commits their rows, dead letters and manifest
entries in one transaction. So the manifest is the watch's only memory: a restart, or a poll
killed mid-flight, leaves what exactly-once loads leave, and the next poll loads what is
missing. Polls start every interval; one that takes longer is followed by the next at once.

A file modified less than one interval before the poll matched it may still be being written:
it is left for a later poll (``LoadConfig.settle_seconds``, counted as ``read/files_settling``).

``files_to_bigquery --input_notifications`` is the streaming alternative (one job, one
commit per commit window, event-time windows across files, a Dataflow template parameter):
it reads Cloud Storage notifications from Pub/Sub, which the BundleBasedDirectRunner does run.

Why polls of batch runs rather than one streaming pipeline (PeriodicImpulse or
MatchContinuously feeding windows, one commit per poll window): neither local runner runs
that here (Beam 2.77). The BundleBasedDirectRunner refuses any splittable DoFn in streaming
(``RuntimeError: Transform node ... ProcessKeyedElements/GroupByKey/GroupByKey ... was not
replaced as expected``; with its overrides reordered, PeriodicImpulse's deferred remainder
fails: ``OffsetRestrictionTracker is not done``), and the FnApiRunner runs PeriodicImpulse but
holds the watermark until the impulse stops, so no poll window would ever commit.
"""

import dataclasses
import signal
import threading
import time
from typing import NamedTuple, Optional

from beam_pipelines.options.values import ConfigError
from beam_pipelines.runtime.run_flags import positive_seconds, take_flag
from beam_pipelines.runtime.runners import runs_here
from beam_pipelines.runtime.summary import (build_summary, collect_counters, finish_summary,
                                            metric_extras)
from beam_pipelines.transforms.loads.config import new_run_id

WATCH_FLAGS = (
    ('watch_interval', 'DURATION',
     'Keep watching --input: every DURATION (30s, 5m, or seconds) load the files that appeared '
     'since, each exactly once across restarts (needs --load_mode incremental and '
     '--output_table; a file modified within the last interval waits for the next poll). '
     'Runs until Ctrl-C, SIGTERM or --duration. With --input_notifications: poll and publish '
     'the notifications of new files for the streaming job instead.'),
    ('duration', 'SECONDS',
     'With --watch_interval: start no poll after this many seconds (a poll in progress '
     'finishes); with --input_notifications: stop the streaming job after this many seconds '
     '(on Dataflow it keeps running: the command returns at once). Default: run until '
     'Ctrl-C or SIGTERM.'),
)


_EVERY_POLL = {'append': 'append every file again at every poll',
               'replace': 'replace the table with the whole input at every poll'}


class WatchPlan(NamedTuple):
  """How often to poll, and for how long (None: until stopped)."""
  interval_seconds: Optional[float]
  duration_seconds: Optional[float] = None


def watch_plan(argv, streaming=False):
  """Takes ``--watch_interval`` and ``--duration`` out of argv: (WatchPlan or None, rest).
  ConfigError naming the flag for a bad value, or ``--duration`` without watching.
  ``streaming`` (``--input_notifications``): always a plan, its interval None unless given
  (the local notifier's polls)."""
  interval, argv = take_flag(argv, 'watch_interval')
  duration, argv = take_flag(argv, 'duration')
  if streaming:
    return WatchPlan(
        None if interval is None else positive_seconds(interval, 'watch_interval', units=True),
        None if duration is None else positive_seconds(duration, 'duration')), argv
  if interval is None:
    if duration is not None:
      raise ConfigError('--duration needs --watch_interval (a files_to_bigquery run without '
                        'it ends when its files are loaded)')
    return None, argv
  return WatchPlan(positive_seconds(interval, 'watch_interval', units=True),
                   None if duration is None else positive_seconds(duration, 'duration')), argv


def watched_config(cfg, plan, options):
  """The pipeline config of a watch: an empty match is an empty poll, and a file modified
  within the last interval waits. ConfigError for what cannot be watched."""
  loads = cfg.loads
  if loads is None or cfg.lake is not None:
    raise ConfigError('--watch_interval loads through the manifest into BigQuery; lake files '
                      '(--output_path) cannot be watched')
  if loads.mode != 'incremental':
    raise ConfigError(f'--watch_interval needs --load_mode incremental (each poll loads the '
                      f'files no poll loaded before); --load_mode {loads.mode} would '
                      f'{_EVERY_POLL[loads.mode]}')
  if not runs_here(options):
    raise ConfigError('--watch_interval polls from this process on a local runner; on '
                      'Dataflow launch incremental runs on a schedule instead (each loads only '
                      'the new files)')
  return dataclasses.replace(
      cfg, source=dataclasses.replace(cfg.source, allow_empty_match=True),
      loads=dataclasses.replace(loads, settle_seconds=plan.interval_seconds))


def notified_config(cfg, plan, options):
  """The pipeline config of a streaming run fed by notifications: with ``--watch_interval``
  (this process publishes them) a file modified within the last interval waits."""
  if cfg.notifications is None:
    raise ConfigError('--input_notifications: expected a subscription, '
                      'projects/P/subscriptions/S')
  if plan.interval_seconds is None:
    return cfg
  if not runs_here(options):
    raise ConfigError('--watch_interval with --input_notifications publishes notifications '
                      'from this process, on a local runner; on Dataflow give the '
                      "subscription of the bucket's notifications alone")
  return dataclasses.replace(cfg, loads=dataclasses.replace(
      cfg.loads, settle_seconds=plan.interval_seconds))


def poll_config(cfg):
  """``cfg`` with a new run id (the commit's id in the manifest) and its staging folder."""
  run_id = new_run_id()
  staging = cfg.loads.staging_location.rstrip('/').rsplit('/', 1)[0] + '/' + run_id
  return dataclasses.replace(cfg, loads=dataclasses.replace(
      cfg.loads, run_id=run_id, staging_location=staging))


class Watched(NamedTuple):
  """What a watch did: its summary (every poll's counters summed, plus ``watch``), the last
  poll's result, and the error that stopped it (None: stopped on request)."""
  summary: dict
  last_result: object
  error: Optional[BaseException]


_SIGNAL_NAMES = {signal.SIGTERM: 'SIGTERM', signal.SIGINT: 'Ctrl-C'}


def _stop_on_signals(stop, stopped_by):
  """SIGTERM and Ctrl-C (SIGINT) ask the watch to stop after the poll in progress: a
  KeyboardInterrupt raised inside a running pipeline comes out of Beam as another error
  (the poll would look failed). A second Ctrl-C interrupts at once. Returns the previous
  handlers (none when not on the main thread, where signals cannot be handled)."""
  if threading.current_thread() is not threading.main_thread():
    return {}

  def handle(signum, unused_frame):
    if signum == signal.SIGINT and stop.is_set():
      raise KeyboardInterrupt
    stopped_by.append(_SIGNAL_NAMES[signum])
    stop.set()

  return {signum: signal.signal(signum, handle) for signum in _SIGNAL_NAMES}


def watch(run_poll, cfg, plan):
  """Runs ``run_poll(poll_config(cfg))`` (a poll: runs the pipeline, returns its result)
  every interval until Ctrl-C, SIGTERM, ``plan.duration_seconds`` or a failed poll; returns
  ``Watched``."""
  stop, counters, extras = threading.Event(), {}, {}
  polls, result, error, stopped_by = 0, None, None, 'duration'
  signalled = []
  previous = _stop_on_signals(stop, signalled)
  deadline = (None if plan.duration_seconds is None
              else time.monotonic() + plan.duration_seconds)
  try:
    while True:
      started = time.monotonic()
      poll_cfg = poll_config(cfg)
      result = run_poll(poll_cfg)
      polls += 1
      for key, value in collect_counters(result).items():
        counters[key] = counters.get(key, 0) + value
      extras = metric_extras(result, poll_cfg)
      wait = plan.interval_seconds - (time.monotonic() - started)
      if deadline is not None:
        if time.monotonic() >= deadline:
          break
        wait = min(wait, deadline - time.monotonic())
      if stop.wait(max(0.0, wait)):
        stopped_by = signalled[0]
        break
      if deadline is not None and time.monotonic() >= deadline:
        break
  except KeyboardInterrupt:
    stopped_by = 'Ctrl-C'
  except Exception as e:  # pylint: disable=broad-except
    error, stopped_by = e, f'a failed poll ({type(e).__name__})'
  finally:
    for signum, handler in previous.items():
      signal.signal(signum, handler)
  summary = finish_summary(build_summary(counters, extras))
  summary['watch'] = {'polls': polls, 'interval_seconds': plan.interval_seconds,
                      'commits': counters.get(('load', 'commits'), 0),
                      'stopped_by': stopped_by}
  return Watched(summary, result, error)
