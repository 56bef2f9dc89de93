"""Where a job runs, and what can be said of it when its metrics cannot be read here.

Local runners run the pipeline in this process: their result has metrics once it is done.
A Dataflow job runs elsewhere; a dry run (``--dry_run=True``) builds the job and submits
nothing, and its result has no metrics at all (``result.metrics()`` raises
NotImplementedError). For those the run summary is what is known of the job: its runner,
state, name, id and, on Dataflow, a console link.
"""

from apache_beam.options.pipeline_options import (GoogleCloudOptions, StandardOptions,
                                                  TestOptions)
from apache_beam.runners.runner import PipelineState

# Runners that run the pipeline in this process: a streaming run is watched here and
# cancelled at the end. Any other runner (Dataflow) runs the job elsewhere: not cancelled.
LOCAL_RUNNERS = ('DirectRunner', 'BundleBasedDirectRunner', 'SwitchingDirectRunner',
                 'FnApiRunner', 'PrismRunner')
CONSOLE_URL = 'https://console.cloud.google.com/dataflow/jobs/{region}/{job_id}?project={project}'


def runner_name(options):
  runner = options.view_as(StandardOptions).runner
  name = runner if isinstance(runner, str) or runner is None else type(runner).__name__
  return str(name).rsplit('.', 1)[-1]


def is_dry_run(options):
  return bool(options is not None and options.view_as(TestOptions).dry_run)


def runs_here(options):
  """True when the job runs in this process (a local runner, not a dry run)."""
  return runner_name(options) in LOCAL_RUNNERS and not is_dry_run(options)


def has_metrics(result):
  try:
    result.metrics()
  except NotImplementedError:
    return False
  return True


def metrics_unavailable(result, options=None):
  """Why this run's metrics cannot be summarised here, or None when they can."""
  if is_dry_run(options):
    return 'dry run: the job was built, not submitted'
  if options is not None and not runs_here(options) and not PipelineState.is_terminal(
      result.state):
    return 'the job runs on; this command did not wait for it'
  if not has_metrics(result):
    return 'this runner reports no metrics'
  return None


def _job_id(result):
  job_id = getattr(result, 'job_id', None)
  try:
    return job_id() if callable(job_id) else None
  except Exception:  # pylint: disable=broad-except
    return None


def job_info(result, options=None):
  """{runner, state, job_name, job_id, console_url}: what is known without metrics."""
  job = getattr(result, 'job', None)
  proto = getattr(job, 'proto', None)
  info = {
      'runner': runner_name(options) if options is not None else type(result).__name__,
      'state': str(result.state),
      'job_name': getattr(proto, 'name', None) or None,
      'job_id': _job_id(result) or getattr(proto, 'id', None) or None,
      'console_url': None,
  }
  if info['job_id'] and options is not None and info['runner'] == 'DataflowRunner':
    cloud = options.view_as(GoogleCloudOptions)
    info['console_url'] = CONSOLE_URL.format(region=cloud.region, job_id=info['job_id'],
                                             project=cloud.project)
  return info
