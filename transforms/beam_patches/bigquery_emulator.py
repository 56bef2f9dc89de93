"""Patch ``bigquery_emulator``: Beam's BigQuery IO talks to ``BIGQUERY_EMULATOR_HOST`` when set.

Beam talks to BigQuery through two clients: google-cloud-bigquery (``insertAll``), which
honours ``BIGQUERY_EMULATOR_HOST`` for its endpoint but still asks ``google.auth.default()``
for credentials, and a generated apitools client (tables, datasets, jobs) whose endpoint is a
hard-coded class attribute. Unpatched, a pipeline aimed at a local emulator would either
look for GCP credentials or quietly talk to the real service.

``apply()`` (through ``beam_pipelines.transforms.beam_patches.enable('bigquery_emulator')``) wraps Beam's
client factories once per process. The wrappers read the variable at each call: while it is
set, clients get the emulator's endpoint and anonymous credentials; while it is unset, they
are Beam's own, so production behaviour is untouched even with the patch on.
"""

import logging
import threading

from beam_pipelines.transforms.core.bigquery_client import emulator_host, emulator_project

_LOG = logging.getLogger(__name__)
_LOCK = threading.Lock()
_installed = False


class _EmulatorBigQueryModule:
  """Stands in for ``google.cloud.bigquery`` inside Beam's bigquery_tools.

  Only ``Client`` differs, and only while ``BIGQUERY_EMULATOR_HOST`` is set: it then defaults
  to anonymous credentials and the emulator endpoint. Every other attribute is the real
  module's, so Beam's other uses are unaffected.
  """
  def __init__(self, real_module):
    self._real = real_module

  def __getattr__(self, name):
    return getattr(self._real, name)

  def Client(self, *args, **kwargs):  # pylint: disable=invalid-name
    host = emulator_host()
    if host is not None:
      from google.api_core.client_options import ClientOptions
      from google.auth.credentials import AnonymousCredentials
      kwargs.setdefault('credentials', AnonymousCredentials())
      kwargs.setdefault('project', emulator_project())
      kwargs.setdefault('client_options', ClientOptions(api_endpoint=host))
    return self._real.Client(*args, **kwargs)


def apply():
  """Installs the client wrappers (idempotent)."""
  global _installed
  from apache_beam.internal.http_client import get_new_http
  from apache_beam.io.gcp import bigquery_tools
  from apache_beam.io.gcp.internal.clients import bigquery as apitools_bigquery
  with _LOCK:
    if _installed:
      return
    wrapper = bigquery_tools.BigQueryWrapper
    original_factory = wrapper.__dict__['_bigquery_client'].__func__
    original_base_url = apitools_bigquery.BigqueryV2.BASE_URL

    def _bigquery_client(pipeline_options=None):
      host = emulator_host()
      if host is None:
        apitools_bigquery.BigqueryV2.BASE_URL = original_base_url
        return original_factory(pipeline_options)
      base_url = host + '/bigquery/v2/'
      # Other code paths build BigqueryV2() from the class attribute.
      apitools_bigquery.BigqueryV2.BASE_URL = base_url
      # get_credentials=False: apitools would otherwise probe for credentials itself.
      return apitools_bigquery.BigqueryV2(
          url=base_url, credentials=None, get_credentials=False, http=get_new_http(),
          response_encoding='utf8')

    wrapper._bigquery_client = staticmethod(_bigquery_client)  # pylint: disable=protected-access
    bigquery_tools.gcp_bigquery = _EmulatorBigQueryModule(bigquery_tools.gcp_bigquery)
    _installed = True
  _LOG.info('Beam BigQuery clients follow BIGQUERY_EMULATOR_HOST (now %s)',
            emulator_host() or 'unset')
