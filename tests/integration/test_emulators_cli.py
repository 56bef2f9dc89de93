"""``beam-pipelines emulators start|status|stop``: the real emulators started in the
background, usable through the variables ``start`` prints, stopped by ``stop``."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.emulator


def _emulators(*argv, check=True):
  env = {k: v for k, v in os.environ.items()
         if k not in ('BIGQUERY_EMULATOR_HOST', 'PUBSUB_EMULATOR_HOST')}
  done = subprocess.run([sys.executable, '-m', 'beam_pipelines.tools.emulators', *argv],
                        capture_output=True, text=True, timeout=180, env=env, check=False)
  if check:
    assert done.returncode == 0, (argv, done.stdout, done.stderr)
  return done


def _alive(pid):
  return os.path.exists(f'/proc/{pid}') and open(f'/proc/{pid}/stat').read().split()[2] != 'Z'


def test_start_use_stop(tmp_path):
  state = ['--state_dir', str(tmp_path)]
  started = _emulators('start', *state)
  env = dict(line[len('export '):].split('=', 1) for line in started.stdout.splitlines())
  assert set(env) == {'BIGQUERY_EMULATOR_HOST', 'PUBSUB_EMULATOR_HOST', 'GOOGLE_CLOUD_PROJECT'}
  with open(tmp_path / 'emulators.json', encoding='utf-8') as f:
    pids = [e['pid'] for e in json.load(f)['emulators'].values()]
  try:
    assert len(pids) == 2 and all(_alive(p) for p in pids)
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery
    client = bigquery.Client(project=env['GOOGLE_CLOUD_PROJECT'],
                             credentials=AnonymousCredentials(),
                             client_options=ClientOptions(
                                 api_endpoint=env['BIGQUERY_EMULATOR_HOST']))
    client.create_dataset('cli_started')
    assert [d.dataset_id for d in client.list_datasets()] == ['cli_started']
    probe = subprocess.run(  # the Pub/Sub client reads PUBSUB_EMULATOR_HOST at creation
        [sys.executable, '-c', 'from google.cloud import pubsub_v1; p = pubsub_v1.'
         'PublisherClient(); print(p.create_topic(name="projects/test-project/topics/cli").name)'],
        env=dict(os.environ, **env), capture_output=True, text=True, timeout=60, check=False)
    assert probe.stdout.strip() == 'projects/test-project/topics/cli', probe.stderr
    status = _emulators('status', *state)
    assert status.stdout.count('running') == 2
    again = _emulators('start', *state, check=False)
    assert again.returncode == 1 and 'already running' in again.stderr
  finally:
    stopped = _emulators('stop', *state)
  assert stopped.stdout.count('stopped the') == 2
  assert not any(_alive(p) for p in pids)
  assert _emulators('status', *state, check=False).returncode == 1
