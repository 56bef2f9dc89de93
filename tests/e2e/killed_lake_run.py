"""Runs files_to_bigquery with ``--output_path`` (a lake sink) and SIGKILLs its whole process
group at one point of the run, as ``killed_run.py`` does for BigQuery output.

    python killed_lake_run.py KILL_POINT [files_to_bigquery args...]

Kill points, reached through the pipeline's own code (wrapped, not changed):

- ``selected``: the first file was chosen to load; nothing written yet (before the sink)
- ``writing``: the first file of the run folder was written and closed (during the sink)
- ``written``: every file is written, the manifest not yet (after the files, before the commit)
- ``renaming``: the manifest is written under its temporary name, not yet renamed (during
  the commit)
- ``committed``: the manifest was renamed into place; the run not finished (after the commit)
"""

import sys

from apache_beam.io.filesystems import FileSystems

from beam_pipelines import files_to_bigquery
from beam_pipelines.transforms.loads import lake_commit
from killed_run import install as install_bigquery_point, kill_now

POINTS = ('selected', 'writing', 'written', 'renaming', 'committed')


def install(point):
  if point == 'selected':
    install_bigquery_point('selected')
  elif point == 'writing':
    close = lake_commit._WriteRunFilesFn._close

    def killing_close(self, key):
      close(self, key)
      kill_now()
    lake_commit._WriteRunFilesFn._close = killing_close
  elif point in ('written', 'committed'):
    write_manifest = lake_commit.write_manifest

    def killing_write_manifest(folder, manifest):
      if point == 'written':
        kill_now()
      write_manifest(folder, manifest)
      kill_now()
    lake_commit.write_manifest = killing_write_manifest
  elif point == 'renaming':
    rename = FileSystems.rename

    def killing_rename(sources, destinations):
      if any('.json.partial-' in s for s in sources):
        kill_now()
      return rename(sources, destinations)
    FileSystems.rename = staticmethod(killing_rename)
  else:
    raise SystemExit(f'unknown kill point {point!r}; one of {POINTS}')


if __name__ == '__main__':
  install(sys.argv[1])
  files_to_bigquery.run(sys.argv[2:], print_summary=False)
  sys.exit(3)  # the kill point was never reached
