"""The run summary: counters per stage and outcome, dead letters by errorType, quality
scores, schema drift, sources and sinks (our config and Beam's lineage metrics).

Where the runner has no metrics to read (a Dataflow dry run, a Dataflow job not waited for)
the summary is what is known of the job instead (``job_summary``), never an exception.
"""

import json
import logging
import os
import threading

from apache_beam.metrics.metric import MetricsFilter

from beam_pipelines.runtime.console import format_summary  # noqa: F401  (re-exported)
from beam_pipelines.runtime.invariant import alert_counts, counting_invariant
from beam_pipelines.runtime.runners import job_info, metrics_unavailable

_LOG = logging.getLogger(__name__)
# Counter namespaces that are not pipeline stages.
_NOT_STAGES = ('dead_letters', 'lineage', 'alerts', 'freshness')
QUALITY_SCORES = ('completeness', 'validity', 'uniqueness', 'freshness')


def collect_counters(result):
  """{(namespace, name): value} of every user counter of a finished run."""
  counters = {}
  for metric in result.metrics().query(MetricsFilter())['counters']:
    key = (metric.key.metric.namespace, metric.key.metric.name)
    value = metric.committed if metric.committed is not None else metric.attempted
    counters[key] = counters.get(key, 0) + (value or 0)
  return counters


def collect_freshness(result):
  """The run's lag distribution (``freshness/lag_ms``) in seconds, or None without one."""
  try:
    found = result.metrics().query(MetricsFilter().with_namespace('freshness'))
  except Exception:  # pylint: disable=broad-except
    return None
  for metric in found.get('distributions', []):
    if metric.key.metric.name != 'lag_ms':
      continue
    value = metric.committed if metric.committed is not None else metric.attempted
    if value is None or not value.count:
      return None
    return {'rows': value.count, 'lag_min_seconds': round(value.min / 1000, 3),
            'lag_mean_seconds': round(value.sum / value.count / 1000, 3),
            'lag_max_seconds': round(value.max / 1000, 3)}
  return None


def collect_lineage(result):
  """{'sources': [...], 'sinks': [...]}: what Beam's lineage metrics report (Dataplex FQNs
  such as ``bigquery:project.dataset.table`` or ``pubsub:subscription:project.name``), or
  empty lists when the runner reports none. Read here rather than with ``Lineage.query``:
  Beam 2.77's DirectRunner returns a lineage metric's value as a set of tuples where
  ``Lineage.query`` expects a BoundedTrieData (``AttributeError: 'set' object has no
  attribute 'flattened'``), so on the streaming runner it reported nothing."""
  from apache_beam.metrics.metric import Lineage, MetricResults
  out = {'sources': [], 'sinks': []}
  try:
    found = result.metrics().query(MetricsFilter().with_namespace(
        Lineage.LINEAGE_NAMESPACE))[MetricResults.BOUNDED_TRIES]
  except Exception as e:  # pylint: disable=broad-except
    _LOG.info('lineage metrics unavailable: %s', e)
    return out
  names = {Lineage.SOURCE: set(), Lineage.SINK: set()}
  for metric in found:
    fqns = names.get(metric.key.metric.name)
    if fqns is None:
      continue
    for value in (metric.committed, metric.attempted):
      paths = value.flattened() if hasattr(value, 'flattened') else (value or ())
      for path in paths:  # (segment, ..., truncated)
        fqns.add(''.join(path[:-1]) + ('*' if path[-1] else ''))
  out['sources'], out['sinks'] = sorted(names[Lineage.SOURCE]), sorted(names[Lineage.SINK])
  return out


def _rate(checked, failed):
  return None if not checked else round((checked - failed) / checked, 6)


def _stages(counters):
  stages = {}
  for (ns, name), value in sorted(counters.items()):
    if ns in _NOT_STAGES:
      continue
    stages.setdefault(ns, {})[name] = value
  return stages


def _quality(counters):
  """Run-level quality scores from the quality counters (None when no rules ran)."""
  q = {name: value for (ns, name), value in counters.items() if ns == 'quality'}
  if 'rows' not in q:
    return None
  scores = {s: _rate(q.get(f'{s}_checked', 0), q.get(f'{s}_failed', 0))
            for s in QUALITY_SCORES}
  rules = {}
  for name, value in q.items():
    for what in ('checked', 'failed'):
      suffix = '_' + what
      if name.endswith(suffix):
        rule = name[:-len(suffix)]
        if rule not in QUALITY_SCORES:
          rules.setdefault(rule, {'checked': 0, 'failed': 0})[what] = value
  for stats in rules.values():
    stats['pass_rate'] = _rate(stats['checked'], stats['failed'])
  return {
      'rows': q.get('rows', 0), 'dead_letters': q.get('dead_letters', 0),
      'flagged': q.get('flagged', 0), 'windows_scored': q.get('windows_scored', 0),
      'scores': scores, 'rules': dict(sorted(rules.items())),
  }


def build_summary(counters, extra=None):
  """A JSON-able summary dict from collected counters.

  Keys: records_read, files_read, rows_written, dead_letters, erased, dead_letters_by_type,
  counters (``ns/name``), stages (``{stage: {outcome: n}}``), quality (run-level scores,
  or None), drift (``drift/*`` counters), alerts (``alerts/*`` counters, or None); plus
  ``extra`` (sources, sinks, lineage, freshness). ``finish_summary`` adds the counting
  invariant and, for the report, the windows, the alerts' list and dead-letter examples."""
  dead_by_type = {name: value for (ns, name), value in counters.items()
                  if ns == 'dead_letters' and name != 'total'}
  attempted = counters.get(('sink', 'rows_attempted'), 0)
  failed = counters.get(('sink', 'rows_failed'), 0)
  summary = {
      'records_read': counters.get(('read', 'records'), 0),
      'files_read': counters.get(('read', 'files'), 0),
      'rows_written': attempted - failed,
      'dead_letters': counters.get(('dead_letters', 'total'), 0),
      # Records removed on purpose: subjects on the erase list (GDPR right to be forgotten).
      'erased': counters.get(('mask', 'erased'), 0),
      'dead_letters_by_type': dict(sorted(dead_by_type.items(), key=lambda kv: (-kv[1], kv[0]))),
      'counters': {f'{ns}/{name}': value for (ns, name), value in sorted(counters.items())},
      'stages': _stages(counters),
      'quality': _quality(counters),
      'drift': {name: value for (ns, name), value in sorted(counters.items())
                if ns == 'drift'},
      # new in 0.3 (docs/monitoring.md): alerts of the SLA rules (None without them)
      'alerts': alert_counts(counters),
  }
  loads = _loads(counters)
  if loads is not None:
    summary['loads'] = loads
  summary.update(extra or {})
  return summary


_LOAD_COUNTERS = (('read', 'files_matched'), ('read', 'files_skipped'),
                  ('read', 'files_changed'), ('read', 'files_settling'),
                  ('load', 'files_committed'),
                  ('load', 'files_conflicted'), ('load', 'rows_committed'),
                  ('load', 'dead_letters_committed'), ('load', 'commits'))


def _loads(counters):
  """What a run loading through the manifest (``--load_mode`` incremental/replace) did with
  its files, or None for other runs."""
  if ('read', 'files_matched') not in counters:
    return None
  return {name: counters.get((ns, name), 0) for ns, name in _LOAD_COUNTERS}


def write_summary(summary, path):
  """Writes the summary as JSON (local path, its missing folders created, or gs://)."""
  from apache_beam.io.filesystems import FileSystems
  data = json.dumps(summary, indent=2, sort_keys=True, default=str).encode('utf-8')
  if '://' in path:
    with FileSystems.create(path) as f:
      f.write(data)
  else:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # Written whole, then renamed: a reader (or a periodic rewrite) never sees half a file.
    partial = f'{path}.partial'
    with open(partial, 'wb') as f:
      f.write(data)
    os.replace(partial, path)


def _source_io(source):
  """{'role': 'input', 'kind', 'name'} of a pipeline's source config."""
  from beam_pipelines.transforms.read.files import FileSourceConfig
  from beam_pipelines.transforms.read.pubsub import PubSubSourceConfig
  if isinstance(source, PubSubSourceConfig):
    if source.subscription:
      return {'role': 'input', 'kind': 'pubsub', 'name': source.subscription}
    return {'role': 'input', 'kind': 'pubsub', 'name': source.topic}
  if isinstance(source, FileSourceConfig):
    return {'role': 'input', 'kind': source.format, 'name': source.pattern}
  return {'role': 'input', 'kind': type(source).__name__, 'name': str(source)}


def config_io(cfg):
  """(sources, sinks) of a pipeline config, as [{'role', 'kind', 'name'}] lists."""
  sources, sinks = [], []
  source = getattr(cfg, 'source', None)
  if source is not None:
    sources.append(_source_io(source))
  enrichment = getattr(cfg, 'enrichment', None)
  if enrichment is not None:
    describe = getattr(enrichment.source, 'describe', None)
    sources.append({'role': 'lookup', 'kind': 'enrichment',
                    'name': describe() if describe else str(enrichment.source)})
  masking = getattr(cfg, 'masking', None)
  if masking is not None and getattr(masking, 'erase_list', None):
    sources.append({'role': 'erase_list', 'kind': 'masking', 'name': masking.erase_list})
  lake = getattr(cfg, 'lake', None)
  sink = getattr(cfg, 'sink', None)
  if lake is not None:
    sinks.append({'role': 'rows', 'kind': lake.format, 'name': lake.path})
  elif sink is not None:
    sinks.append({'role': 'rows', 'kind': 'bigquery', 'name': sink.table})
  dead = getattr(cfg, 'dead_letters', None)
  if dead is not None:
    sinks.append({'role': 'dead_letters', 'kind': dead.kind,
                  'name': dead.table or dead.path or dead.topic})
  quality = getattr(cfg, 'quality', None)
  if quality is not None and quality.rules is not None:
    sinks.append({'role': 'quality', 'kind': 'bigquery' if quality.scores_sink else 'jsonl',
                  'name': quality.scores_destination})
  windowing = getattr(cfg, 'windowing', None)
  if windowing is not None and getattr(windowing, 'sink', None) is not None:
    sinks.append({'role': 'aggregates', 'kind': 'bigquery', 'name': windowing.sink.table})
  monitoring = getattr(cfg, 'monitoring', None)
  if monitoring is not None and monitoring.alerts_destination:
    sinks.append({'role': 'alerts', 'kind': 'bigquery' if monitoring.alert_sink else 'jsonl',
                  'name': monitoring.alerts_destination})
    delivery = monitoring.delivery
    if delivery is not None and delivery.topic:
      sinks.append({'role': 'alerts', 'kind': 'pubsub', 'name': delivery.topic})
    if delivery is not None and delivery.webhook:
      sinks.append({'role': 'alerts', 'kind': 'webhook', 'name': delivery.webhook})
  return sources, sinks


def job_summary(result, cfg=None, options=None, reason=None):
  """The summary of a run whose metrics cannot be read here: the job (runner, state, name,
  id, console link), why there are no counters, and the configured sources and sinks."""
  job = job_info(result, options)
  job['reason'] = reason or metrics_unavailable(result, options) or 'not read'
  summary = {'job': job}
  if cfg is not None:
    summary['sources'], summary['sinks'] = config_io(cfg)
  return summary


def run_summary(result, cfg=None, options=None):
  """The whole summary of a run: counters, config sources/sinks and Beam's lineage; or,
  where the runner has no metrics to read (see ``job_summary``), what is known of the job."""
  reason = metrics_unavailable(result, options)
  if reason is not None:
    return job_summary(result, cfg, options, reason)
  return finish_summary(build_summary(collect_counters(result), metric_extras(result, cfg)))


def metric_extras(result, cfg=None):
  """What a summary adds to its counters: lineage, freshness, sources and sinks."""
  extra = {'lineage': collect_lineage(result), 'freshness': collect_freshness(result)}
  if cfg is not None:
    extra['sources'], extra['sinks'] = config_io(cfg)
  return extra


def finish_summary(summary):
  """Adds the counting invariant (``invariant``) to a summary with counters."""
  if 'counters' in summary:
    summary['invariant'] = counting_invariant(summary)
  return summary


class PeriodicSummary:
  """Logs (and optionally writes) the summary of a running pipeline every N seconds.

  For streaming runs: ``with PeriodicSummary(result, 60, title, cfg=cfg): ...wait...``.
  Metrics of a running job are the runner's attempted values so far."""

  def __init__(self, result, interval_seconds, title='Run summary', cfg=None, path=None,
               log=None, summarize=None, after=None, formatter=None):
    if interval_seconds <= 0:
      raise ValueError(f'interval_seconds must be positive, got {interval_seconds}')
    self._result = result
    self._interval = interval_seconds
    self._title = title
    self._cfg = cfg
    self._path = path
    self._log = log or _LOG.info
    self._summarize = summarize or (lambda: run_summary(self._result, self._cfg))
    self._after = after          # e.g. rewrite the run report
    self._formatter = formatter or format_summary
    self._stop = threading.Event()
    self._thread = None
    self.last = None

  def emit(self):
    self.last = self._summarize()
    self._log(self._formatter(self.last, self._title))
    if self._path:
      write_summary(self.last, self._path)
    if self._after is not None:
      self._after(self.last)
    return self.last

  def _loop(self):
    while not self._stop.wait(self._interval):
      try:
        self.emit()
      except Exception as e:  # pylint: disable=broad-except
        _LOG.warning('periodic summary failed: %s', e)

  def __enter__(self):
    self._thread = threading.Thread(target=self._loop, name='periodic-summary', daemon=True)
    self._thread.start()
    return self

  def __exit__(self, *exc):
    self._stop.set()
    if self._thread is not None:
      self._thread.join(timeout=self._interval + 5)
    return False
