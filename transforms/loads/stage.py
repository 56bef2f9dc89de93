"""StageRowsForCommit: rows in, staging files out, for a commit to load into BigQuery.

Each bundle writes its rows, one JSON object a line (BigQuery's JSON form, JSON columns as
JSON values), into a file of its own per window: ``<folder>/<role>/<random>.jsonl``. It
outputs one ``StagedFile`` per file written, in the file's window, when the bundle finishes.
A bundle that fails and is retried writes a new file; the runner drops the failed attempt's
output, so a commit loads only the files of bundles that succeeded (a failed attempt's file
stays in the folder, unreferenced, and goes with it).

Each line carries the row's input file in ``_bp_load_file`` (from its source id: the rows'
``SOURCE_ID_KEY``, a dead letter's ``sourceId``; NULL when there is none), which the commit
counts and checks per file.
"""

import json
import uuid
from typing import NamedTuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue

from beam_pipelines.transforms.core.elements import row_dict
from beam_pipelines.transforms.core.messages import SOURCE_ID_KEY
from beam_pipelines.transforms.core.schema import load_schema
from beam_pipelines.transforms.loads.manifest import LOAD_FILE_COLUMN, file_of
from beam_pipelines.transforms.write.staged_script import json_line

DEAD_LETTER_SOURCE_FIELD = 'sourceId'


class StagedFile(NamedTuple):
  """A staging file: the ``role`` of the table its rows are for, its ``path``, ``rows``."""
  role: str
  path: str
  rows: int


def base64_columns(schema):
  """The top-level BYTES columns of ``schema`` as (name, repeated): their staging columns are STRING (the base64
  text rows carry), turned into BYTES by the commit (``FROM_BASE64``). A load job of JSON
  decodes base64 into BYTES on BigQuery but not on the local emulator (it stores the text);
  staging them as text behaves the same on both."""
  return tuple((f.name, f.repeated) for f in load_schema(schema).fields if f.type == 'BYTES')


def staging_schema(schema):
  """A table's schema plus the ``_bp_load_file`` column its staging table has (top-level
  BYTES columns staged as STRING: ``base64_columns``)."""
  schema = load_schema(schema)
  if any(f.name.lower() == LOAD_FILE_COLUMN for f in schema.fields):
    raise ValueError(f'the column name {LOAD_FILE_COLUMN} is reserved (staging tables of '
                     'exactly-once loads)')
  fields = [dict(f.to_json(), type='STRING') if f.type == 'BYTES' else f.to_json()
            for f in schema.fields]
  return load_schema({'fields': fields + [{'name': LOAD_FILE_COLUMN, 'type': 'STRING'}]})


def json_parser(schema):
  """A function making a row's JSON columns (JSON text in rows, at any depth) JSON values,
  as load files want them; None when the schema has no JSON column."""
  def paths(fields):
    out = {}
    for f in fields:
      if f.type == 'JSON':
        out[f.name] = (True, f.repeated)
      elif f.type == 'RECORD':
        sub = paths(f.fields)
        if sub:
          out[f.name] = (sub, f.repeated)
    return out

  tree = paths(load_schema(schema).fields)
  if not tree:
    return None

  def value(node, v):
    if v is None:
      return None
    if node is True:
      return json.loads(v) if isinstance(v, str) else v
    return convert(node, v) if isinstance(v, dict) else v

  def convert(node, row):
    out = dict(row)
    for name, (sub, repeated) in node.items():
      if out.get(name) is not None:
        out[name] = ([value(sub, v) for v in out[name]] if repeated
                     else value(sub, out[name]))
    return out

  return lambda row: convert(tree, row)


class _StageFn(beam.DoFn):

  def __init__(self, role, folder, schema):
    self._role = role
    self._folder = folder.rstrip('/') + '/' + role
    self._schema = schema
    self._source_field = DEAD_LETTER_SOURCE_FIELD if role == 'dead_letters' else None
    self._staged = Metrics.counter('load', f'{role}_staged')

  def setup(self):
    self._parse_json = json_parser(self._schema) or (lambda row: row)
    if '://' not in self._folder:
      import os
      os.makedirs(self._folder, exist_ok=True)

  def start_bundle(self):
    self._open = {}  # window -> [path, handle, rows]

  def process(self, element, window=beam.DoFn.WindowParam):
    row = dict(row_dict(element))
    source_id = row.pop(SOURCE_ID_KEY, None)
    if source_id is None and self._source_field:
      source_id = row.get(self._source_field)
    row = self._parse_json(row)
    row[LOAD_FILE_COLUMN] = file_of(source_id)
    entry = self._open.get(window)
    if entry is None:
      path = f'{self._folder}/{uuid.uuid4().hex}.jsonl'
      entry = self._open[window] = [path, FileSystems.create(path), 0]
    entry[1].write(json_line(row))
    entry[2] += 1

  def finish_bundle(self):
    for window, (path, handle, rows) in self._open.items():
      handle.close()
      self._staged.inc(rows)
      yield WindowedValue(StagedFile(self._role, path, rows), window.max_timestamp(), [window])
    self._open = {}


class StageRowsForCommit(beam.PTransform):
  """Rows (dicts or ``beam.Row``s, BigQuery JSON form; a source id key is used then dropped)
  in; ``StagedFile``s out (see the module docstring).

  Args:
    schema: the table's schema (JSON columns are written as JSON values).
    role: names the table in the commit (``rows``, ``dead_letters``, ``aggregates``...) and
      the sub-folder of its files; ``dead_letters`` takes a row's file from ``sourceId``.
    folder: the run's staging folder (local or ``gs://``).

  Counter ``load/<role>_staged``.
  """

  def __init__(self, schema, role, folder, label=None):
    super().__init__(label)
    if not role or not role.replace('_', '').isalnum():
      raise ValueError(f'role must be a word (letters, digits, _), got {role!r}')
    if not folder:
      raise ValueError('folder is required')
    self._schema = load_schema(schema)
    self._role = role
    self._folder = folder

  def expand(self, rows):
    return rows | 'WriteStagingFiles' >> beam.ParDo(
        _StageFn(self._role, self._folder, self._schema)).with_output_types(StagedFile)
