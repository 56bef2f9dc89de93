"""Runs files_to_bigquery and SIGKILLs its whole process group at one point of the run.

    python killed_run.py KILL_POINT [files_to_bigquery args...]

With ``--watch_interval`` among the arguments it kills a watch, in the first poll that
reaches the point (tests/e2e/test_watch_files.py). The test starts this script in a session
of its own, so ``os.killpg`` takes the whole
process tree (the runner and any worker) at once, as ``kill -9`` of a job would; nothing
gets to clean up. The kill points are places in the run, reached through the pipeline's own
code (this script wraps the methods, it does not change what they do):

- ``selected``: the first file was chosen to load; nothing read or staged yet (before the sink)
- ``staged``: the first staging file of the sink was written (during the sink)
- ``tables_loaded``: the staging tables are loaded, the commit's transaction not yet sent
- ``commit_sent``: the staging tables are loaded and the commit's transaction was sent to
  BigQuery; killed before its answer came back (during the commit)
- ``committed``: the commit's answer came back; staging tables and files not yet removed,
  the run not finished (after the sink)
"""

import os
import signal
import sys

from beam_pipelines import files_to_bigquery
from beam_pipelines.transforms.loads import select, stage
from beam_pipelines.transforms.write import staged_script

POINTS = ('selected', 'staged', 'tables_loaded', 'commit_sent', 'committed')


def kill_now():
  sys.stdout.flush()
  os.killpg(os.getpgid(0), signal.SIGKILL)


def install(point):
  if point == 'selected':
    load = select._SelectFn._load

    def killing_load(self, *args):
      yield from load(self, *args)
      kill_now()
    select._SelectFn._load = killing_load
  elif point == 'staged':
    finish = stage._StageFn.finish_bundle

    def killing_finish(self):
      for out in finish(self):
        kill_now()
        yield out
    stage._StageFn.finish_bundle = killing_finish
  elif point in ('tables_loaded', 'commit_sent', 'committed'):
    run_stages = staged_script.StagedScript.run_stages

    class KillingClient:
      """The commit's client: kills just before its transaction is sent (tables_loaded) or
      once it was sent (commit_sent)."""

      def __init__(self, client):
        self._client = client

      def __getattr__(self, name):
        return getattr(self._client, name)

      def query(self, sql, **kwargs):
        if point == 'tables_loaded' and 'BEGIN TRANSACTION' in sql:
          kill_now()
        job = self._client.query(sql, **kwargs)  # the emulator runs it as it is inserted
        if 'BEGIN TRANSACTION' in sql:
          kill_now()
        return job

    def killing_run_stages(self, client, stages, script, sleep=None):
      if point != 'committed':
        client = KillingClient(client)
      result = run_stages(self, client, stages, script)
      kill_now()
      return result
    staged_script.StagedScript.run_stages = killing_run_stages
  else:
    raise SystemExit(f'unknown kill point {point!r}; one of {POINTS}')


if __name__ == '__main__':
  install(sys.argv[1])
  files_to_bigquery.run(sys.argv[2:], print_summary=False)
  sys.exit(3)  # the kill point was never reached
