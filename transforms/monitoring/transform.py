"""EvaluateSlas: the SLA rules of a quality config, checked per quality window -> alerts.

Input: ``(scores, dead_letters)``, the quality-table rows of ``CheckQuality`` and the dead
letters of every stage. Steps: the dead letters are counted per window (their
``eventTimestamp``, else their element timestamp), joined with the window's quality row
(``JoinWindows``), and the windows' metrics are checked by ``SlaEvaluator``: in a batch run
all windows in event-time order once the input is done (plus the dead-letter rate of the
whole run, dead letters without an event time included); in a streaming run each window
when the watermark passes it, the evaluator (detectors, cool-down) kept in a stateful DoFn.
"""

import logging

import apache_beam as beam
from apache_beam.coders import CloudpickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms import window as beam_window
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from beam_pipelines.transforms.core.dead_letter import pipeline_name_of
from beam_pipelines.transforms.monitoring.alerts import AlertLinks
from beam_pipelines.transforms.monitoring.evaluate import SlaEvaluator, window_metrics
from beam_pipelines.transforms.quality.config import QualityConfig
from beam_pipelines.transforms.quality.rules import is_event_time, parse_timestamp
from beam_pipelines.transforms.quality.rules_file import load_quality_rules

_LOG = logging.getLogger(__name__)
UNPLACED = 'unplaced'


class _PlaceDeadLetterFn(beam.DoFn):
  """A dead letter -> ``1`` at its event time (else its element time); without either, on
  the 'unplaced' output."""

  def process(self, record, timestamp=beam.DoFn.TimestampParam):
    event = parse_timestamp(record.get('eventTimestamp')) if isinstance(record, dict) else None
    if is_event_time(event):
      yield beam_window.TimestampedValue(1, event)
    elif is_event_time(float(timestamp)):
      yield 1
    else:
      yield beam.pvalue.TaggedOutput(UNPLACED, 1)


class _KeyByWindowFn(beam.DoFn):
  def __init__(self, tag):
    self._tag = tag

  def process(self, value, window=beam.DoFn.WindowParam):
    start = None if isinstance(window, beam_window.GlobalWindow) else float(window.start)
    yield start, (self._tag, value)


class _MergeWindowFn(beam.DoFn):
  """(window start, [('quality', row) | ('dead', n)]) -> the window's metrics."""

  def __init__(self, window_seconds):
    self._window = window_seconds

  def process(self, keyed):
    start, parts = keyed
    quality_rows = [v for tag, v in parts if tag == 'quality']
    dead = sum(v for tag, v in parts if tag == 'dead')
    row = None
    if quality_rows:
      row = dict(quality_rows[0])
      for other in quality_rows[1:]:  # more than one pane: add the counts up
        row['rows'] += other['rows']
        row['dead_lettered'] += other['dead_lettered']
    end = None if start is None else start + self._window
    yield window_metrics(start, end, row, dead)


class _AlertCounters:
  def __init__(self):
    self.windows = Metrics.counter('alerts', 'windows_checked')
    self.raised = Metrics.counter('alerts', 'raised')
    self.by_severity = {s: Metrics.counter('alerts', f'raised_{s}')
                        for s in ('warning', 'critical')}
    self.suppressed = Metrics.counter('alerts', 'suppressed')
    self.by_rule = {}

  def count(self, alerts, suppressed):
    for alert in alerts:
      self.raised.inc()
      self.by_severity[alert['severity']].inc()
      rule = alert['rule']
      if rule not in self.by_rule:  # one counter per rule: a Cloud Monitoring handle
        self.by_rule[rule] = Metrics.counter('alerts', f'{rule}_raised')
      self.by_rule[rule].inc()
    if suppressed:
      self.suppressed.inc(suppressed)


class _EvaluateAllFn(beam.DoFn):
  """Batch: every window's metrics at once, checked in event-time order, then the run's
  dead-letter rate."""

  def __init__(self, make_evaluator):
    self._make = make_evaluator

  def setup(self):
    self._counters = _AlertCounters()

  def process(self, keyed):
    _, items = keyed
    windows = sorted((v for tag, v in items if tag == 'metrics'),
                     key=lambda m: (m['window_start'] is None, m['window_start'] or 0))
    unplaced = sum(v for tag, v in items if tag == UNPLACED)
    evaluator = self._make()
    for metrics in windows:
      self._counters.windows.inc()
      alerts, suppressed = evaluator.evaluate(metrics)
      self._counters.count(alerts, suppressed)
      yield from alerts
    if windows and windows[0]['window_start'] is not None:
      alerts = evaluator.evaluate_run(windows, unplaced)
      self._counters.count(alerts, 0)
      yield from alerts


class _EvaluateStatefulFn(beam.DoFn):
  """Streaming: each window's metrics as it closes; the evaluator lives in state."""
  EVALUATOR = ReadModifyWriteStateSpec('evaluator', CloudpickleCoder())

  def __init__(self, make_evaluator):
    self._make = make_evaluator

  def setup(self):
    self._counters = _AlertCounters()

  def process(self, keyed, state=beam.DoFn.StateParam(EVALUATOR)):
    _, metrics = keyed
    evaluator = state.read() or self._make()
    self._counters.windows.inc()
    alerts, suppressed = evaluator.evaluate(metrics)
    state.write(evaluator)
    self._counters.count(alerts, suppressed)
    yield from alerts


class _MakeEvaluator:
  """A picklable factory of fresh evaluators."""

  def __init__(self, config, pipeline, links, clock):
    self._config, self._pipeline, self._links, self._clock = config, pipeline, links, clock

  def __call__(self):
    config = self._config
    return SlaEvaluator(config.slas, config.window_seconds, config.alert_cooldown_seconds,
                        self._pipeline, self._links, self._clock)


class EvaluateSlas(beam.PTransform):
  """Checks the SLA rules (``slas``) of a quality config per quality window.

  Input: a tuple ``(scores, dead_letters)``: ``CheckQuality``'s ``scores`` and the dead
  letters of every stage (the flattened ones the pipeline writes). Output: alert records
  (``beam_pipelines.transforms.monitoring.alerts``), one per breach and window, in the
  global window; none while a rule cools down. Counters ``alerts/windows_checked``,
  ``alerts/raised``, ``alerts/raised_<severity>``, ``alerts/<rule id>_raised``,
  ``alerts/suppressed``.

  Args:
    config: the quality rules (a ``QualityConfig``, a file path, YAML/JSON text or a dict)
      with at least one SLA.
    links: an ``AlertLinks`` naming the quality and dead-letter tables, for the alerts' links.
    pipeline_name: written into each alert (default: the pipeline's options).

  Example::

      checked = rows | CheckQuality('rules.yaml')
      alerts = (checked.scores, all_dead_letters) | EvaluateSlas('rules.yaml')
  """

  def __init__(self, config, *, links=None, pipeline_name=None, clock=None, label=None):
    super().__init__(label)
    self._config = load_quality_rules(config)
    if not isinstance(self._config, QualityConfig) or not self._config.slas:
      raise ValueError('config: no SLA rules (slas) to evaluate')
    if links is not None and not isinstance(links, AlertLinks):
      raise ValueError(f'links must be an AlertLinks, got {type(links).__name__}')
    self._links = links or AlertLinks()
    self._pipeline_name = pipeline_name
    self._clock = clock

  def expand(self, pcolls):
    scores, dead_letters = pcolls
    config = self._config
    name = pipeline_name_of(scores.pipeline, self._pipeline_name)
    make = _MakeEvaluator(config, name, self._links, self._clock)
    if config.window_seconds:
      windowing = beam_window.FixedWindows(config.window_seconds)
    else:
      windowing = beam_window.GlobalWindows()
    lateness = config.allowed_lateness_seconds
    placed = dead_letters | 'PlaceDeadLetters' >> beam.ParDo(
        _PlaceDeadLetterFn()).with_outputs(UNPLACED, main='placed')
    dead_counts = (
        placed.placed
        | 'DeadLetterWindows' >> beam.WindowInto(windowing, allowed_lateness=lateness)
        | 'CountDeadLetters' >> beam.CombineGlobally(sum).without_defaults()
        | 'KeyDeadLetters' >> beam.ParDo(_KeyByWindowFn('dead')))
    quality = (scores
               | 'ScoreWindows' >> beam.WindowInto(windowing, allowed_lateness=lateness)
               | 'KeyScores' >> beam.ParDo(_KeyByWindowFn('quality')))
    metrics = ((quality, dead_counts)
               | 'JoinWindows' >> beam.Flatten()
               | 'GroupWindows' >> beam.GroupByKey()
               | 'WindowMetrics' >> beam.ParDo(_MergeWindowFn(config.window_seconds))
               | 'MetricsToGlobalWindow' >> beam.WindowInto(beam_window.GlobalWindows()))
    if scores.is_bounded:
      unplaced = (placed[UNPLACED]
                  | 'CountUnplaced' >> beam.CombineGlobally(sum).without_defaults()
                  | 'TagUnplaced' >> beam.Map(lambda n: ('run', (UNPLACED, n))))
      tagged = metrics | 'TagMetrics' >> beam.Map(lambda m: ('run', ('metrics', m)))
      return ((tagged, unplaced)
              | 'AllWindows' >> beam.Flatten()
              | 'GroupRun' >> beam.GroupByKey()
              | 'Evaluate' >> beam.ParDo(_EvaluateAllFn(make)))
    return (metrics
            | 'KeyByPipeline' >> beam.Map(lambda m, key=name: (key or '', m))
            | 'Evaluate' >> beam.ParDo(_EvaluateStatefulFn(make)))
