"""The load manifest: one row per input file per committed load, what makes reruns safe.

    path          the file (as matched: local path or gs://...)
    identity      size and modification time (``size=123;mtime=1733340000.123456``): a file
                  with the same path and identity is the same file
    size_bytes, modified
    rows, dead_letters   what the load of this file committed to the rows and dead-letter tables
    run_id        the run (or, watching, the commit) that loaded it
    loaded_at     when it was committed
    action        new (first load), reload (a changed file loaded again), replace (a replace run),
                  commit (no file: the marker of a streaming commit that loaded none, path '')
    pipeline, output_table

An operator's questions are queries on it: ``SELECT path, rows, dead_letters FROM
ds.events_loads WHERE DATE(loaded_at) = CURRENT_DATE() - 1``. Deleting a file's rows here
makes the next incremental run load the file again (delete its rows first).
"""

import datetime
import re
from typing import Dict, NamedTuple, Optional

from beam_pipelines.transforms.core.schema import load_schema

MANIFEST_FIELDS = (
    {'name': 'path', 'type': 'STRING', 'mode': 'REQUIRED'},
    {'name': 'identity', 'type': 'STRING', 'mode': 'REQUIRED'},
    {'name': 'size_bytes', 'type': 'INT64', 'mode': 'NULLABLE'},
    {'name': 'modified', 'type': 'TIMESTAMP', 'mode': 'NULLABLE'},
    {'name': 'rows', 'type': 'INT64', 'mode': 'REQUIRED'},
    {'name': 'dead_letters', 'type': 'INT64', 'mode': 'REQUIRED'},
    {'name': 'run_id', 'type': 'STRING', 'mode': 'REQUIRED'},
    {'name': 'loaded_at', 'type': 'TIMESTAMP', 'mode': 'REQUIRED'},
    {'name': 'action', 'type': 'STRING', 'mode': 'REQUIRED'},
    {'name': 'pipeline', 'type': 'STRING', 'mode': 'NULLABLE'},
    {'name': 'output_table', 'type': 'STRING', 'mode': 'NULLABLE'},
)
# The files of a commit, as staged: the manifest's file columns, and how many manifest rows
# the path had when the run looked (the commit's check that nobody loaded it meanwhile).
FILE_ENTRY_FIELDS = MANIFEST_FIELDS[:4] + (
    {'name': 'action', 'type': 'STRING', 'mode': 'REQUIRED'},
    {'name': 'previous_loads', 'type': 'INT64', 'mode': 'REQUIRED'},
)
# Staging tables carry each row's input file in this column (NULL: a row of no file).
LOAD_FILE_COLUMN = '_bp_load_file'
# The action of a commit's marker row (a streaming commit with no file: path '').
COMMIT_MARKER = 'commit'
_SOURCE_ID = re.compile(r'^(?P<path>.+):(?P<position>[0-9]+)$')
_GLOB = re.compile(r'[*?\[{]')


def manifest_schema():
  """The manifest table's schema (a ``TableSchema``)."""
  return load_schema({'fields': [dict(f) for f in MANIFEST_FIELDS]})


def file_entry_schema():
  return load_schema({'fields': [dict(f) for f in FILE_ENTRY_FIELDS]})


def file_identity(metadata):
  """A matched file's identity: its size and modification time (``FileMetadata``)."""
  mtime = getattr(metadata, 'last_updated_in_seconds', None) or 0.0
  return f'size={metadata.size_in_bytes};mtime={float(mtime):.6f}'


def file_entry(metadata, action, previous_loads):
  """The staged row of one file of a commit (``FILE_ENTRY_FIELDS``)."""
  mtime = getattr(metadata, 'last_updated_in_seconds', None)
  modified = None
  if mtime:
    modified = datetime.datetime.fromtimestamp(float(mtime), datetime.timezone.utc).isoformat()
  return {'path': metadata.path, 'identity': file_identity(metadata),
          'size_bytes': metadata.size_in_bytes, 'modified': modified, 'action': action,
          'previous_loads': previous_loads}


def file_of(source_id):
  """The file a ``path:line`` / ``path:record`` source id names, or None."""
  match = _SOURCE_ID.match(source_id) if isinstance(source_id, str) else None
  return match.group('path') if match else None


def glob_prefix(pattern):
  """The literal start of a file pattern (``gs://b/events/`` for ``gs://b/events/*.jsonl``):
  the manifest rows a run reads are those of paths with this prefix."""
  match = _GLOB.search(pattern)
  return pattern if match is None else pattern[:match.start()]


class FileState(NamedTuple):
  """What the manifest says of one path: its latest identity and how many loads it lists."""
  identity: str
  loads: int


def manifest_state(rows):
  """{path: FileState} from manifest rows (dicts with path, identity, loaded_at)."""
  latest: Dict[str, tuple] = {}
  counts: Dict[str, int] = {}
  for row in rows:
    path = row['path']
    counts[path] = counts.get(path, 0) + 1
    key = (row.get('loaded_at') or datetime.datetime.min.replace(tzinfo=datetime.timezone.utc),
           row.get('run_id') or '')
    if path not in latest or key >= latest[path][0]:
      latest[path] = (key, row['identity'])
  return {path: FileState(identity, counts[path]) for path, (_, identity) in latest.items()}


def classify(state: Optional[FileState], identity):
  """'new', 'loaded' (same identity as its latest load) or 'changed'."""
  if state is None:
    return 'new'
  return 'loaded' if state.identity == identity else 'changed'


def commit_marker_entry():
  """The staged entry of a commit that offers no file (``COMMIT_MARKER``)."""
  return {'path': '', 'identity': COMMIT_MARKER, 'size_bytes': None, 'modified': None,
          'action': COMMIT_MARKER, 'previous_loads': 0}
