"""The run summary on runners without metrics: a Dataflow dry run builds the job and its
result has no metrics (``result.metrics()`` raises NotImplementedError); a Dataflow job not
waited for has none yet. The command prints what it knows and exits 0.

The dry runs are real (DataflowRunner, ``--dry_run=True``: translated offline, nothing
submitted). No Dataflow service can run here, so a job that runs on is a Beam
``PipelineResult`` in state RUNNING, with a job id where Dataflow's result has one."""

import os
import subprocess
import sys

import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineResult, PipelineState

from beam_pipelines import files_to_bigquery, pubsub_to_bigquery, replay_dead_letters
from beam_pipelines.runtime.runners import job_info, metrics_unavailable
from beam_pipelines.runtime.summary import format_summary, run_summary

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = os.path.join(REPO, 'samples')
DATAFLOW_DRY_RUN = ['--runner', 'DataflowRunner', '--dry_run=True', '--project', 'my-project',
                    '--region', 'europe-west1', '--temp_location', 'gs://my-bucket/tmp']


@pytest.fixture(autouse=True)
def no_emulator(monkeypatch):
  monkeypatch.delenv('BIGQUERY_EMULATOR_HOST', raising=False)


def test_files_to_bigquery_dry_run_as_a_command_exits_0_with_the_job():
  env = {k: v for k, v in os.environ.items() if k != 'BIGQUERY_EMULATOR_HOST'}
  proc = subprocess.run(
      [sys.executable, '-m', 'beam_pipelines.files_to_bigquery', *DATAFLOW_DRY_RUN,
       '--input', os.path.join(SAMPLES, 'events.jsonl'),
       '--schema', os.path.join(SAMPLES, 'events_schema.json'),
       '--output_table', 'my-project:analytics.events'],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert 'Traceback' not in proc.stderr and 'NotImplementedError' not in proc.stderr
  out = proc.stdout
  assert 'metrics: not available (dry run: the job was built, not submitted)' in out
  assert 'runner                      DataflowRunner' in out
  assert 'job name                    beamapp-' in out
  assert 'rows          bigquery    my-project:analytics.events' in out


def test_pubsub_to_bigquery_dry_run_returns_without_waiting():
  result, summary = pubsub_to_bigquery.run(DATAFLOW_DRY_RUN + [
      '--input_subscription', 'projects/my-project/subscriptions/events',
      '--schema', os.path.join(SAMPLES, 'events_schema.json'),
      '--output_table', 'my-project:analytics.events', '--duration', '600'],
      print_summary=False)
  assert summary['job']['reason'].startswith('dry run')
  assert summary['job']['runner'] == 'DataflowRunner'
  assert 'records_read' not in summary  # no made-up zero counts
  assert result.state == PipelineState.DONE


def test_replay_dry_run_prints_the_job(capsys):
  replay_dead_letters.run(DATAFLOW_DRY_RUN + [
      '--dead_letter_path', os.path.join(SAMPLES, 'dead_letters_sample.jsonl'),
      '--error_type', '*', '--replay_to_path', 'gs://my-bucket/replay/events'])
  out = capsys.readouterr().out
  assert out.startswith('replay_dead_letters summary')
  assert 'metrics: not available (dry run' in out


class _RunningDataflowJob(PipelineResult):
  """What Dataflow's result is like while its job runs: RUNNING, with a job id."""

  def __init__(self):
    super().__init__(PipelineState.RUNNING)

  def job_id(self):
    return '2026-12-04_01_02_03-123'


def test_a_job_not_waited_for_is_summarised_by_its_id_and_console_link():
  options = PipelineOptions(['--runner', 'DataflowRunner', '--project', 'my-project',
                             '--region', 'europe-west1'])
  result = _RunningDataflowJob()
  assert metrics_unavailable(result, options) == 'the job runs on; this command did not wait for it'
  summary = run_summary(result, options=options)
  assert summary['job']['job_id'] == '2026-12-04_01_02_03-123'
  assert summary['job']['console_url'] == (
      'https://console.cloud.google.com/dataflow/jobs/europe-west1/'
      '2026-12-04_01_02_03-123?project=my-project')
  text = format_summary(summary, 'files_to_bigquery summary')
  assert 'state                       RUNNING' in text
  assert 'console url                 https://console.cloud.google.com/dataflow/' in text


def test_a_local_run_still_has_its_counters(tmp_path):
  data = tmp_path / 'in.jsonl'
  data.write_text('{"event_id": "e1"}\n')
  result, summary = files_to_bigquery.run(
      ['--input', str(data), '--schema', os.path.join(SAMPLES, 'events_schema.json'),
       '--output_path', str(tmp_path / 'out'), '--output_format', 'jsonl'],
      print_summary=False)
  assert 'job' not in summary and summary['records_read'] == 1
  assert metrics_unavailable(result, PipelineOptions(['--runner', 'FnApiRunner'])) is None
  assert job_info(result)['state'] == 'DONE'
