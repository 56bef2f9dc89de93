"""Where ``SelectFilesToLoad`` reads the manifest from: the BigQuery manifest table (rows go
to BigQuery) or a lake sink's manifest files (``lake_manifest``). Both give the same rows
(path, identity, run_id, loaded_at), so the decisions (skip, changed, reload) are made by one
code path whatever the store."""

from beam_pipelines.transforms.loads.lake_manifest import LakeManifestStore
from beam_pipelines.transforms.loads.sql import sql_string
from beam_pipelines.transforms.write.staged_script import StagedScript, quoted, table_ref


class BigQueryManifestStore:
  """The rows of the manifest table, read with the config's retry budget."""

  def __init__(self, config):
    self._config = config
    self._runner = StagedScript(config.staging_location, config.retry_budget_seconds,
                                config.project, budget_name=config.manifest_table)
    self._client = None

  def rows(self, prefix):
    if self._client is None:
      self._client = self._runner.client()
    ref = table_ref(self._config.manifest_table, self._client.project)
    return self._runner.query(self._client, (
        f'SELECT path, identity, run_id, loaded_at FROM {quoted(ref)} '
        f'WHERE STARTS_WITH(path, {sql_string(prefix)})'))

  def close(self):
    if self._client is not None:
      self._client.close()


def manifest_store(config):
  """The store of a ``LoadConfig``'s manifest (call on the worker: it may open a client)."""
  if config.manifest_path is not None:
    return LakeManifestStore(config.manifest_path)
  return BigQueryManifestStore(config)
