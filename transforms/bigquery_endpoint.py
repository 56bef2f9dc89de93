"""Point every BigQuery client Beam creates at ``BIGQUERY_EMULATOR_HOST`` when it is set.

Beam talks to BigQuery through two clients: google-cloud-bigquery (``insertAll``), which
honours ``BIGQUERY_EMULATOR_HOST`` for its endpoint but still asks ``google.auth.default()``
for credentials, and a generated apitools client (tables, datasets, jobs) whose endpoint is a
hard-coded class attribute. Without this module a pipeline aimed at a local emulator would
either look for GCP credentials or quietly talk to the real service.

``apply_emulator_endpoint()`` is idempotent and cheap. It is called when our sink and source
transforms are constructed *and* when their DoFns are set up on a worker, because worker
processes (``--direct_running_mode=multi_processing``, portable runners) import Beam afresh.
With the variable unset it does nothing at all, so production behaviour is untouched.
"""

import logging
import os
import threading

_LOG = logging.getLogger(__name__)
_LOCK = threading.Lock()
_applied_host = None

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


def apply_emulator_endpoint():
  """Redirects Beam's BigQuery clients to the emulator when BIGQUERY_EMULATOR_HOST is set.

  Returns the host it applied, or None when the variable is unset.
  """
  global _applied_host
  host = emulator_host()
  if host is None or host == _applied_host:
    return host
  with _LOCK:
    if host == _applied_host:
      return host
    _patch_beam_clients(host)
    _applied_host = host
  _LOG.info('BigQuery calls go to the emulator at %s', host)
  return host


class _EmulatorBigQueryModule:
  """Stands in for ``google.cloud.bigquery`` inside Beam's bigquery_tools.

  Only ``Client`` differs: it defaults to anonymous credentials and the emulator endpoint.
  Every other attribute is the real module's, so Beam's other uses are unaffected.
  """
  def __init__(self, real_module):
    self._real = real_module

  def __getattr__(self, name):
    return getattr(self._real, name)

  def Client(self, *args, **kwargs):  # pylint: disable=invalid-name
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    kwargs.setdefault('credentials', AnonymousCredentials())
    kwargs.setdefault('project', emulator_project())
    kwargs.setdefault('client_options', ClientOptions(api_endpoint=emulator_host()))
    return self._real.Client(*args, **kwargs)


def _patch_beam_clients(host):
  from apache_beam.internal.http_client import get_new_http
  from apache_beam.io.gcp import bigquery_tools
  from apache_beam.io.gcp.internal.clients import bigquery as apitools_bigquery

  base_url = host + '/bigquery/v2/'

  def _emulator_apitools_client(unused_pipeline_options=None):
    # get_credentials=False: apitools would otherwise probe for credentials itself.
    return apitools_bigquery.BigqueryV2(
        url=base_url,
        credentials=None,
        get_credentials=False,
        http=get_new_http(),
        response_encoding='utf8')

  apitools_bigquery.BigqueryV2.BASE_URL = base_url
  bigquery_tools.BigQueryWrapper._bigquery_client = staticmethod(  # pylint: disable=protected-access
      _emulator_apitools_client)
  real = bigquery_tools.gcp_bigquery
  if isinstance(real, _EmulatorBigQueryModule):
    real = real._real  # pylint: disable=protected-access
  bigquery_tools.gcp_bigquery = _EmulatorBigQueryModule(real)
