"""Right to be forgotten inside the pipeline: an erase list of subject ids as a side input.

Sources (``--erase_list``):

- a text file (local or ``gs://``), one subject id per line; blank lines and lines starting
  with ``#`` are ignored; surrounding whitespace is stripped;
- ``bigquery:[PROJECT:]DATASET.TABLE`` — the ``subject_id`` column of a table
  (``bigquery:DATASET.TABLE#column`` for another column), read with google-cloud-bigquery
  (honours ``BIGQUERY_EMULATOR_HOST``).

Batch: ``LoadEraseList`` reads the list once when the pipeline starts and hands it to the
masking DoFns as a side input. Streaming: ``ReloadingEraseList(source, refresh_seconds)``
instead makes each worker read the list itself and re-read it when it is older than
``refresh_seconds`` (a failed re-read keeps the previous list, logs a warning and counts
``mask/erase_list_reload_failed``; a failed *first* read fails the bundle loudly). Records
whose subject field is in the list are removed before masking and counted (``mask/erased``);
they are never written, not even as dead letters.
"""

import logging
import re
import time
from dataclasses import dataclass
from typing import Optional

import apache_beam as beam

from beam_pipelines.transforms.core.table_spec import parse_table_spec

_LOG = logging.getLogger(__name__)
_BQ_SOURCE = re.compile(r'^bigquery:(?P<table>[^#]+)(?:#(?P<column>[A-Za-z_][A-Za-z0-9_]*))?$')


def parse_erase_source(source):
  """('file', path, None) or ('bigquery', table, column); ValueError when malformed."""
  if not isinstance(source, str) or not source.strip():
    raise ValueError('erase list must be a file path or bigquery:[PROJECT:]DATASET.TABLE')
  if source.startswith('bigquery:'):
    match = _BQ_SOURCE.match(source)
    if not match:
      raise ValueError(f'erase list {source!r}: expected bigquery:[PROJECT:]DATASET.TABLE'
                       '[#column]')
    parse_table_spec(match.group('table'), 'erase list table')
    return 'bigquery', match.group('table'), match.group('column') or 'subject_id'
  return 'file', source, None


def load_erase_list(source, project=None):
  """The erase list as a frozenset of subject ids (strings). Raises ValueError naming the
  source when it cannot be read."""
  kind, where, column = parse_erase_source(source)
  if kind == 'file':
    from apache_beam.io.filesystems import FileSystems
    try:
      with FileSystems.open(where) as handle:
        text = handle.read().decode('utf-8')
    except Exception as e:  # pylint: disable=broad-except
      raise ValueError(f'cannot read erase list {where!r}: {type(e).__name__}: {e}') from None
    return frozenset(line.strip() for line in text.splitlines()
                     if line.strip() and not line.lstrip().startswith('#'))
  from beam_pipelines.transforms.core.bigquery_client import bigquery_client
  table_project, dataset, table = parse_table_spec(where, 'erase list table')
  client = bigquery_client(table_project or project)
  ref = f'`{table_project or client.project}.{dataset}.{table}`'
  try:
    rows = client.query(f'SELECT DISTINCT CAST({column} AS STRING) AS s FROM {ref} '
                        f'WHERE {column} IS NOT NULL').result()
    return frozenset(row['s'].strip() for row in rows if row['s'] and row['s'].strip())
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f'cannot read erase list {source!r}: {type(e).__name__}: '
                     f'{str(e).splitlines()[0] if str(e) else ""}') from None


class LoadEraseList(beam.PTransform):
  """A one-element PCollection holding the erase list (a frozenset), for ``AsSingleton``.

  Example::

      erase = p | LoadEraseList('gs://bucket/erase.txt')
      rows | MaskPII(schema, policy, key, subject_field='user.id', erase_ids=erase)
  """

  def __init__(self, source, project=None, label=None):
    super().__init__(label)
    parse_erase_source(source)
    self._source = source
    self._project = project

  def expand(self, pbegin):
    source, project = self._source, self._project
    return (pbegin
            | 'Source' >> beam.Create([source])
            | 'Read' >> beam.Map(lambda s: load_erase_list(s, project)))


@dataclass(frozen=True)
class ReloadingEraseList:
  """An erase list each worker reads itself and re-reads every ``refresh_seconds`` (for
  streaming pipelines, where a list read once at start would never see new requests)."""
  source: str
  refresh_seconds: float
  project: Optional[str] = None

  def __post_init__(self):
    parse_erase_source(self.source)
    if not self.refresh_seconds > 0:
      raise ValueError(f'refresh_seconds must be positive, got {self.refresh_seconds!r}')


class EraseListCache:
  """The current erase list of one worker: ``get()`` is a clock read when fresh."""

  def __init__(self, spec, on_reload_failure=None, clock=time.monotonic, loader=None):
    self._spec = spec
    self._clock = clock
    self._load = loader or load_erase_list
    self._on_failure = on_reload_failure
    self._ids = None
    self._loaded_at = None

  def get(self):
    now = self._clock()
    if self._ids is not None and now - self._loaded_at < self._spec.refresh_seconds:
      return self._ids
    try:
      ids = self._load(self._spec.source, self._spec.project)
    except ValueError as e:
      if self._ids is None:
        raise
      _LOG.warning('erase list reload failed, keeping the previous list: %s', e)
      if self._on_failure is not None:
        self._on_failure()
      self._loaded_at = now  # retry after another refresh period, not on every element
      return self._ids
    self._ids, self._loaded_at = ids, now
    return ids
