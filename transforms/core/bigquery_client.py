"""The google-cloud-bigquery client the suite's own BigQuery calls use (lookups, erase lists,
schema evolution, replay, forget), aimed at ``BIGQUERY_EMULATOR_HOST`` when it is set.

Against the emulator the client gets anonymous credentials (``google.auth.default()`` would
look for GCP credentials otherwise) and the project ``GOOGLE_CLOUD_PROJECT`` or
``test-project``; without the variable it is the ordinary client. Beam's own BigQuery IO
uses other clients: the Beam patch ``bigquery_emulator`` (``beam_pipelines.transforms.beam_patches``)
aims those.
"""

import os

ENV_VAR = 'BIGQUERY_EMULATOR_HOST'


def emulator_host():
  """Returns the emulator base URL (``http://host:port``) or None when unset."""
  host = os.environ.get(ENV_VAR, '').strip()
  if not host:
    return None
  if not host.startswith(('http://', 'https://')):
    host = 'http://' + host
  return host.rstrip('/')


def emulator_project(default='test-project'):
  """The project to use against an emulator: GOOGLE_CLOUD_PROJECT or a fixed default."""
  return os.environ.get('GOOGLE_CLOUD_PROJECT') or default


def anonymous_bigquery_client(project=None):
  """A google-cloud-bigquery Client for the emulator (anonymous credentials)."""
  from google.api_core.client_options import ClientOptions
  from google.auth.credentials import AnonymousCredentials
  from google.cloud import bigquery
  return bigquery.Client(
      project=project or emulator_project(),
      credentials=AnonymousCredentials(),
      client_options=ClientOptions(api_endpoint=emulator_host()))


def bigquery_client(project=None):
  """A google-cloud-bigquery Client: the emulator's while ``BIGQUERY_EMULATOR_HOST`` is set,
  else the ordinary one for ``project`` (the environment's default project when None)."""
  if emulator_host():
    return anonymous_bigquery_client(project)
  from google.cloud import bigquery
  return bigquery.Client(project=project)
