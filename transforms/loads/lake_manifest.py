"""The lake sink's manifest: which output files are part of the table, decided by one file.

A committing run (``--load_mode`` incremental or replace with ``--output_path``) writes its
files under a folder of its own, ``<base>/run=<run_id>/`` (``base``: the output path, the
dead-letter path, the aggregates path), then commits by writing ONE manifest file,
``<output_path>/_loads/<run_id>.json``: written whole under a temporary name and renamed, so
the file's appearance is the commit (on GCS a rename is a copy: the object appears whole).
A run folder without a committed manifest is not part of the table: readers that go through
the manifests (``committed_files``) never see it, and later runs ignore it.

A manifest (JSON) holds::

    run_id, mode, pipeline, committed_at, sequence (1 + the highest it saw)
    files     one entry per input file: path, identity, size_bytes, modified, rows,
              dead_letters, run_id, loaded_at, action (new|reload|replace),
              outputs {role: [output files holding that input file's records]}
    outputs   {role: [every output file of the run]}   roles: rows, dead_letters, aggregates
    superseded_runs      replace: the runs that were live; they stop being part of the table
    superseded_outputs   reload: the earlier output files of the changed input files

The live files are found by replaying the manifests in ``sequence`` order, so a replace or a
reload switches readers from the old files to the new ones in one step.
"""

import datetime
import json
import uuid
from typing import Dict, List

from apache_beam.io.filesystems import FileSystems

MANIFEST_FOLDER = '_loads'
RUN_FOLDER_PREFIX = 'run='
ROLES = ('rows', 'dead_letters', 'aggregates')


def manifest_folder(output_path):
  """``<output_path>/_loads``: where a lake sink's manifest files are."""
  return output_path.rstrip('/') + '/' + MANIFEST_FOLDER


def run_folder(base_path, run_id):
  """``<base_path>/run=<run_id>``: where a run writes its files of one role."""
  return f'{base_path.rstrip("/")}/{RUN_FOLDER_PREFIX}{run_id}'


def manifest_file(folder, run_id):
  return f'{folder.rstrip("/")}/{run_id}.json'


def _order(manifest):
  return (manifest.get('sequence', 0), manifest.get('committed_at', ''), manifest['run_id'])


def read_manifests(folder) -> List[dict]:
  """The committed manifests in ``folder``, in commit order (temporary files are not
  matched: they do not end in ``.json``)."""
  matched = FileSystems.match([folder.rstrip('/') + '/*.json'])[0].metadata_list
  manifests = []
  for metadata in matched:
    with FileSystems.open(metadata.path) as f:
      manifests.append(json.loads(f.read().decode('utf-8')))
  return sorted(manifests, key=_order)


def live_outputs(manifests) -> Dict[str, Dict[str, str]]:
  """{role: {output file: run_id}} of the files that are part of the table after
  ``manifests`` (in commit order): each manifest drops the runs and files it supersedes,
  then adds its own outputs."""
  live: Dict[str, Dict[str, str]] = {}
  for manifest in manifests:
    superseded_runs = set(manifest.get('superseded_runs', ()))
    superseded = set(manifest.get('superseded_outputs', ()))
    for files in live.values():
      for path in [p for p, run in files.items() if run in superseded_runs or p in superseded]:
        del files[path]
    for role, paths in manifest.get('outputs', {}).items():
      live.setdefault(role, {}).update((p, manifest['run_id']) for p in paths)
  return live


def committed_outputs(output_path):
  """{role: sorted data files} of the committed, live runs of a lake sink at
  ``output_path``, from one reading of its manifests: read rows and dead letters from one
  such answer (two calls may straddle a commit)."""
  live = live_outputs(read_manifests(manifest_folder(output_path)))
  return {role: sorted(live.get(role, {})) for role in ROLES}


def committed_files(output_path, role='rows'):
  """The data files of the committed, live runs of a lake sink at ``output_path`` (sorted):
  what a reader should read. ``role``: ``rows`` (default), ``dead_letters`` or
  ``aggregates``. A plain glob over the folder also sees uncommitted and superseded runs.

  Example (DuckDB)::

      files = committed_files('gs://lake/events')
      duckdb.sql(f"SELECT COUNT(*) FROM read_parquet({files!r})")
  """
  if role not in ROLES:
    raise ValueError(f'role must be one of {"|".join(ROLES)}, got {role!r}')
  return committed_outputs(output_path)[role]


def file_rows(manifests):
  """The manifest rows (dicts: path, identity, run_id, loaded_at, ...) of every file entry
  of ``manifests``: what ``SelectFilesToLoad`` decides by, as from the manifest table."""
  rows = []
  for manifest in manifests:
    for entry in manifest.get('files', ()):
      row = {k: v for k, v in entry.items() if k != 'outputs'}
      row['loaded_at'] = datetime.datetime.fromisoformat(row['loaded_at'])
      rows.append(row)
  return rows


class LakeManifestStore:
  """The manifest rows of a lake sink's manifest files (``SelectFilesToLoad``'s store)."""

  def __init__(self, folder):
    self._folder = folder

  def rows(self, prefix):
    return [r for r in file_rows(read_manifests(self._folder)) if r['path'].startswith(prefix)]

  def close(self):
    pass


def write_manifest(folder, manifest):
  """Commits ``manifest``: written whole under a temporary name, then renamed to
  ``<run_id>.json``. Returns the manifest file's path."""
  final = manifest_file(folder, manifest['run_id'])
  partial = f'{final}.partial-{uuid.uuid4().hex[:8]}'
  if '://' not in folder:
    import os
    os.makedirs(folder, exist_ok=True)
  with FileSystems.create(partial) as f:
    f.write(json.dumps(manifest, indent=1, sort_keys=True).encode('utf-8'))
  FileSystems.rename([partial], [final])
  return final
