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

from beam_pipelines.runtime.runners import job_info, metrics_unavailable

_LOG = logging.getLogger(__name__)
# Counter namespaces that are not pipeline stages.
_NOT_STAGES = ('dead_letters', 'lineage')
QUALITY_SCORES = ('completeness', 'validity', 'uniqueness', 'freshness')


def collect_counters(result):
  """{(namespace, name): value} of every user counter of a finished run."""
  counters = {}
  for metric in result.metrics().query(MetricsFilter())['counters']:
    key = (metric.key.metric.namespace, metric.key.metric.name)
    value = metric.committed if metric.committed is not None else metric.attempted
    counters[key] = counters.get(key, 0) + (value or 0)
  return counters


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
  or None), drift (``drift/*`` counters); plus ``extra`` (sources, sinks, lineage)."""
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
  }
  loads = _loads(counters)
  if loads is not None:
    summary['loads'] = loads
  summary.update(extra or {})
  return summary


_LOAD_COUNTERS = (('read', 'files_matched'), ('read', 'files_skipped'),
                  ('read', 'files_changed'), ('load', 'files_committed'),
                  ('load', 'files_conflicted'), ('load', 'rows_committed'),
                  ('load', 'dead_letters_committed'), ('load', 'commits'))


def _loads(counters):
  """What a run loading through the manifest (``--load_mode`` incremental/replace) did with
  its files, or None for other runs."""
  if ('read', 'files_matched') not in counters:
    return None
  return {name: counters.get((ns, name), 0) for ns, name in _LOAD_COUNTERS}


def _fmt(value):
  return '-' if value is None else f'{value:.4f}'


def _format_job(job):
  lines = [f'  metrics: not available ({job["reason"]})']
  for key in ('runner', 'state', 'job_name', 'job_id', 'console_url'):
    lines.append(f'  {key.replace("_", " "):<28}{job.get(key) or "-"}')
  return lines


def format_summary(summary, title='Run summary'):
  """A readable table of the summary."""
  lines = [title, '=' * len(title)]
  if summary.get('job'):  # no metrics: what is known of the job
    lines += _format_job(summary['job'])
  for key in ('records_read', 'rows_written', 'dead_letters', 'erased'):
    if key in summary:
      lines.append(f'  {key.replace("_", " "):<28}{summary[key]:>10}')
  for key in ('messages_read', 'duplicates_removed', 'windows_emitted',
              'aggregate_rows_written', 'late_data'):  # streaming / windowed runs only
    if key in summary:
      lines.append(f'  {key.replace("_", " "):<28}{summary[key]:>10}')
  loads = summary.get('loads')
  if loads:
    lines.append(f'  files: {loads["files_matched"]} matched, {loads["files_skipped"]} '
                 f'skipped (loaded before), {loads["files_changed"]} changed, '
                 f'{loads["files_committed"]} committed')
  if summary.get('dead_letters_by_type'):
    lines.append('  dead letters by errorType:')
    for error_type, count in summary['dead_letters_by_type'].items():
      lines.append(f'    {error_type:<40}{count:>8}')
  quality = summary.get('quality')
  if quality:
    lines.append(f'  quality (run; {quality["rows"]} rows, {quality["dead_letters"]} dead '
                 f'letters, {quality["flagged"]} flagged, {quality["windows_scored"]} '
                 'window(s) scored):')
    for score, value in quality['scores'].items():
      lines.append(f'    {score:<40}{_fmt(value):>8}')
    for rule, stats in quality['rules'].items():
      lines.append(f'    rule {rule:<35}{_fmt(stats["pass_rate"]):>8}  '
                   f'({stats["failed"]} of {stats["checked"]} failed)')
  if summary.get('drift'):
    lines.append('  schema drift:')
    for name, value in summary['drift'].items():
      lines.append(f'    {name:<40}{value:>8}')
  if summary.get('stages'):
    lines.append('  per stage and outcome:')
    for stage, outcomes in summary['stages'].items():
      for name, value in outcomes.items():
        lines.append(f'    {stage + "/" + name:<40}{value:>8}')
  for key in ('sources', 'sinks'):
    if summary.get(key):
      lines.append(f'  {key}:')
      for item in summary[key]:
        lines.append(f'    {item["role"]:<13} {item["kind"]:<11} {item["name"]}')
  lineage = summary.get('lineage')
  if lineage is not None:
    lines.append('  lineage (Beam metrics): sources '
                 f'{", ".join(lineage["sources"]) or "none reported"}; sinks '
                 f'{", ".join(lineage["sinks"]) or "none reported"}')
  return '\n'.join(lines)


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
  extra = {'lineage': collect_lineage(result)}
  if cfg is not None:
    extra['sources'], extra['sinks'] = config_io(cfg)
  return build_summary(collect_counters(result), extra)


class PeriodicSummary:
  """Logs (and optionally writes) the summary of a running pipeline every N seconds.

  For streaming runs: ``with PeriodicSummary(result, 60, title, cfg=cfg): ...wait...``.
  Metrics of a running job are the runner's attempted values so far."""

  def __init__(self, result, interval_seconds, title='Run summary', cfg=None, path=None,
               log=None, summarize=None):
    if interval_seconds <= 0:
      raise ValueError(f'interval_seconds must be positive, got {interval_seconds}')
    self._result = result
    self._interval = interval_seconds
    self._title = title
    self._cfg = cfg
    self._path = path
    self._log = log or _LOG.info
    self._summarize = summarize or (lambda: run_summary(self._result, self._cfg))
    self._stop = threading.Event()
    self._thread = None
    self.last = None

  def emit(self):
    self.last = self._summarize()
    self._log(format_summary(self.last, self._title))
    if self._path:
      write_summary(self.last, self._path)
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
