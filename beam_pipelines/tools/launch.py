"""Launch a template: validate its parameters against metadata.json, then run it.

    beam-pipelines launch files_to_bigquery --sample --local --with_emulators
    beam-pipelines launch files_to_bigquery \
        --parameters_file templates/files_to_bigquery/sample_parameters.json --local
    beam-pipelines launch files_to_bigquery --parameters input=gs://b/*.jsonl ... \
        --dataflow --project P --region R --template_spec gs://b/templates/files_to_bigquery.json

(``python -m beam_pipelines.tools.launch`` is the same command.) ``--sample`` takes the
template's shipped sample parameters, their ``samples/...`` files from the installed package.

Parameters are checked with the rules the Dataflow UI applies (unknown names, required
parameters, each regex must match the whole value, enum values) before anything runs; every
problem is listed and the exit code is 2. ``--local`` runs the pipeline in this process on
the DirectRunner (``--with_emulators`` starts local BigQuery and, for streaming templates, Pub/Sub emulators
first, creates the datasets, topic and subscription the parameters name and publishes sample
events; streaming runs stop after ``--duration`` seconds). ``--dataflow`` calls
``FlexTemplatesServiceClient.launch_flex_template``.
"""

import argparse
import importlib
import json
import os
import re
import sys

from beam_pipelines import resources
from beam_pipelines.runtime.prog import prog_name

# The templates the package ships (templates/ of the repository, read as package data).
DEFAULT_TEMPLATES_DIR = resources.templates_dir()


class LaunchError(ValueError):
  """Bad template name or parameters; the message lists every problem."""


def template_names(templates_dir=DEFAULT_TEMPLATES_DIR):
  return sorted(d for d in os.listdir(templates_dir)
                if os.path.isfile(os.path.join(templates_dir, d, 'metadata.json')))


def load_metadata(template, templates_dir=DEFAULT_TEMPLATES_DIR):
  path = os.path.join(templates_dir, template, 'metadata.json')
  if not os.path.isfile(path):
    raise LaunchError(f'unknown template {template!r}; known: {template_names(templates_dir)}')
  with open(path, encoding='utf-8') as f:
    return json.load(f)


def validate_parameters(metadata, parameters):
  """Every problem with ``parameters`` (a dict of str) as a list of messages; [] if fine."""
  problems = []
  specs = {p['name']: p for p in metadata['parameters']}
  for name in parameters:
    if name not in specs:
      problems.append(f'unknown parameter {name!r} (template {metadata["name"]!r} takes: '
                      f'{", ".join(sorted(specs))})')
  for name, spec in specs.items():
    value = parameters.get(name)
    if value is None or value == '':
      if not spec.get('isOptional', False):
        problems.append(f'parameter {name!r} is required: {spec.get("helpText", "")}')
      continue
    for regex in spec.get('regexes', []):
      if not re.fullmatch(regex, value):
        problems.append(f'parameter {name!r}: {value!r} does not match {regex!r}')
    options = [o['value'] for o in spec.get('enumOptions', [])]
    if options and value not in options:
      problems.append(f'parameter {name!r}: {value!r} is not one of {options}')
  return problems


def parse_parameter_args(pairs, parameters_file, sample_of=None, templates_dir=None):
  """Parameters from the template's shipped samples (``sample_of``: its name), a JSON file,
  then ``name=value`` pairs, each overriding the one before."""
  parameters = {}
  if sample_of:
    path = os.path.join(templates_dir or DEFAULT_TEMPLATES_DIR, sample_of,
                        'sample_parameters.json')
    with open(path, encoding='utf-8') as f:
      parameters.update(resources.resolve_sample_paths(
          {k: str(v) for k, v in json.load(f).items()}))
  if parameters_file:
    with open(parameters_file, encoding='utf-8') as f:
      loaded = json.load(f)
    if not isinstance(loaded, dict):
      raise LaunchError(f'{parameters_file}: expected a JSON object of name -> value')
    parameters.update({k: str(v) for k, v in loaded.items()})
  for pair in pairs or []:
    if '=' not in pair:
      raise LaunchError(f'--parameters expects name=value, got {pair!r}')
    name, value = pair.split('=', 1)
    parameters[name.strip()] = value
  return parameters


def _table_datasets(parameters):
  datasets = set()
  for key, value in parameters.items():
    if key.endswith('_table') and value:
      spec = value.replace(':', '.')
      parts = spec.split('.')
      if len(parts) >= 2:
        datasets.add(parts[-2])
  return datasets


def _is_streaming(parameters):
  return bool(parameters.get('input_subscription') or parameters.get('input_topic'))


def _publish_sample(publisher, topic, path, id_attribute):
  """Publishes each line of ``path`` to ``topic``; the id attribute from the JSON when set."""
  import orjson
  futures = []
  with open(path, 'rb') as f:
    for number, line in enumerate(f, 1):
      line = line.rstrip(b'\n')
      attributes = {}
      if id_attribute:
        try:
          attributes[id_attribute] = str(orjson.loads(line).get(id_attribute, number))
        except (orjson.JSONDecodeError, AttributeError):
          attributes[id_attribute] = f'line-{number}'
      futures.append(publisher.publish(topic, line, **attributes))
  for future in futures:
    future.result(timeout=60)
  return len(futures)


def _local_pubsub(stack, parameters, publish_file):
  """Starts the Pub/Sub emulator, creates the topic/subscription the parameters name and
  publishes ``publish_file`` to it."""
  from google.cloud import pubsub_v1

  from beam_pipelines.tools.emulators import PubSubEmulator
  pubsub = stack.enter_context(PubSubEmulator())
  os.environ.update(pubsub.environment())
  publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
  topic = parameters.get('input_topic')
  subscription = parameters.get('input_subscription')
  if topic is None:
    project, _, name = subscription.split('/', 3)[1:]
    topic = f'projects/{project}/topics/{name.removesuffix("-sub")}-topic'
  publisher.create_topic(name=topic)
  if subscription:
    subscriber.create_subscription(name=subscription, topic=topic)
  count = _publish_sample(publisher, topic, publish_file, parameters.get('id_attribute'))
  print(f'Pub/Sub emulator on {pubsub.host}; published {count} messages to {topic}')


def run_local(template, parameters, with_emulators=False, duration=None, publish_file=None):
  """Runs the template's pipeline here. Streaming pipelines stop after ``duration`` s."""
  import contextlib
  module = importlib.import_module(f'beam_pipelines.{template}')
  argv = [f'--{k}={v}' for k, v in parameters.items()]
  if _is_streaming(parameters) and duration:
    argv += ['--duration', str(duration)]
  with contextlib.ExitStack() as stack:
    if with_emulators:
      from beam_pipelines.tools.emulators import BigQueryEmulator, prepare_duckdb_extensions
      prepare_duckdb_extensions()
      bq = stack.enter_context(BigQueryEmulator())
      os.environ.update(bq.environment())
      client = bq.client()
      for dataset in sorted(_table_datasets(parameters)):
        client.create_dataset(dataset, exists_ok=True)
      print(f'BigQuery emulator on {bq.endpoint}; datasets: '
            f'{sorted(_table_datasets(parameters))}')
      if _is_streaming(parameters):
        _local_pubsub(stack, parameters, publish_file or resources.sample('events.jsonl'))
    return module.run(argv)


def flex_templates_client(endpoint=None):
  """A FlexTemplatesServiceClient; an ``http://host:port`` endpoint means plaintext gRPC
  (a local fake or proxy), anything else the normal authenticated client."""
  from google.cloud import dataflow_v1beta3
  if endpoint and endpoint.startswith('http://'):
    import grpc
    from google.cloud.dataflow_v1beta3.services.flex_templates_service.transports import (FlexTemplatesServiceGrpcTransport)
    channel = grpc.insecure_channel(endpoint[len('http://'):])
    return dataflow_v1beta3.FlexTemplatesServiceClient(
        transport=FlexTemplatesServiceGrpcTransport(channel=channel))
  if endpoint:
    from google.api_core.client_options import ClientOptions
    return dataflow_v1beta3.FlexTemplatesServiceClient(
        client_options=ClientOptions(api_endpoint=endpoint))
  return dataflow_v1beta3.FlexTemplatesServiceClient()


def launch_dataflow(template, parameters, project, region, template_spec, job_name=None,
                    endpoint=None, validate_only=False):
  """Calls launch_flex_template; returns the LaunchFlexTemplateResponse."""
  from google.cloud import dataflow_v1beta3
  client = flex_templates_client(endpoint)
  request = dataflow_v1beta3.LaunchFlexTemplateRequest(
      project_id=project,
      location=region,
      validate_only=validate_only,
      launch_parameter=dataflow_v1beta3.LaunchFlexTemplateParameter(
          job_name=job_name or template.replace('_', '-'),
          container_spec_gcs_path=template_spec,
          parameters=parameters))
  return client.launch_flex_template(request=request)


def main(argv=None):
  parser = argparse.ArgumentParser(prog=prog_name('beam_pipelines.tools.launch'),
                                   description=__doc__.splitlines()[0])
  parser.add_argument('template', help='a template name: ' + ', '.join(template_names()))
  parser.add_argument('--parameters', nargs='*', default=[], metavar='NAME=VALUE')
  parser.add_argument('--parameters_file', help='a JSON object of parameter name -> value')
  parser.add_argument('--sample', action='store_true',
                      help="start from the template's shipped sample parameters (its "
                           'samples/... files from the installed package); --parameters_file '
                           'and --parameters override them')
  parser.add_argument('--templates_dir', default=DEFAULT_TEMPLATES_DIR)
  where = parser.add_mutually_exclusive_group(required=True)
  where.add_argument('--local', action='store_true', help='run here on the DirectRunner')
  where.add_argument('--dataflow', action='store_true', help='launch the Flex Template')
  parser.add_argument('--with_emulators', action='store_true',
                      help='with --local: start local BigQuery (and, for a streaming template, '
                           'Pub/Sub) emulators first, creating the datasets, topic and '
                           'subscription the parameters name')
  parser.add_argument('--duration', type=float, default=30.0,
                      help='with --local, streaming templates: stop after this many seconds')
  parser.add_argument('--publish_file', default=None,
                      help='with --with_emulators, streaming: JSONL lines to publish first '
                           '(default: the shipped samples/events.jsonl)')
  parser.add_argument('--project')
  parser.add_argument('--region')
  parser.add_argument('--template_spec', help='gs:// path of the built template spec')
  parser.add_argument('--job_name')
  parser.add_argument('--endpoint', help='Dataflow API endpoint (default: Google\'s)')
  parser.add_argument('--validate_only', action='store_true')
  args = parser.parse_args(argv)
  try:
    metadata = load_metadata(args.template, args.templates_dir)
    parameters = parse_parameter_args(args.parameters, args.parameters_file,
                                      args.template if args.sample else None,
                                      args.templates_dir)
    problems = validate_parameters(metadata, parameters)
    if args.dataflow:
      for name in ('project', 'region', 'template_spec'):
        if not getattr(args, name):
          problems.append(f'--{name} is required with --dataflow')
      if args.template_spec and not args.template_spec.startswith('gs://'):
        problems.append('--template_spec must be a gs:// path')
    if problems:
      raise LaunchError('; '.join(problems))
  except (LaunchError, OSError, ValueError) as e:
    print(f'launch: error: {e}', file=sys.stderr)
    return 2
  if args.local:
    from beam_pipelines.tools.emulators import EmulatorError
    try:
      run_local(args.template, parameters, args.with_emulators, args.duration,
                args.publish_file)
    except EmulatorError as e:
      print(f'launch: error: {e}', file=sys.stderr)
      return 1
    return 0
  response = launch_dataflow(args.template, parameters, args.project, args.region,
                             args.template_spec, args.job_name, args.endpoint,
                             args.validate_only)
  print(f'launched job {response.job.id} ({response.job.name}) in {args.region}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
