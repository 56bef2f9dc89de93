"""Schema drift, ``evolve`` mode: add new NULLABLE (or REPEATED) columns to a BigQuery table.

Columns are added with ``ALTER TABLE ... ADD COLUMN IF NOT EXISTS`` (one column per
statement; safe when several workers race) and, when the table metadata does not show them
afterwards (the bqemulator), with a ``tables.update`` of the schema. The table is created
first when it does not exist yet. One ``TableEvolver`` per worker caches what it added.
"""

import threading

from beam_pipelines.transforms.core.bigquery_client import bigquery_client

from beam_pipelines.transforms.core.table_spec import parse_table_spec
from beam_pipelines.transforms.validate.drift_inference import sql_type
from beam_pipelines.transforms.core.schema import load_schema


class TableEvolver:
  """Adds NULLABLE/REPEATED top-level columns to a table (thread-safe, idempotent)."""

  def __init__(self, table, project, base_schema):
    table_project, dataset, name = parse_table_spec(table, 'output_table')
    self._project = table_project or project
    self._table_id = f'{dataset}.{name}' if not self._project else (
        f'{self._project}.{dataset}.{name}')
    self._base = base_schema
    self._client = None
    self._lock = threading.Lock()

  @property
  def table_id(self):
    return self._table_id

  def _get_client(self):
    if self._client is None:
      self._client = bigquery_client(self._project)
    return self._client

  def table_schema(self):
    """The table's current schema as a TableSchema, creating the table if missing."""
    from google.api_core.exceptions import NotFound
    from google.cloud import bigquery
    client = self._get_client()
    try:
      table = client.get_table(self._table_id)
    except NotFound:
      table = bigquery.Table(self._table_id, schema=[
          bigquery.SchemaField.from_api_repr(f) for f in self._base.to_json()['fields']])
      table = client.create_table(table, exists_ok=True)
    return load_schema([f.to_api_repr() for f in table.schema])

  def add_columns(self, specs):
    """Adds the columns the table lacks; returns (the table's schema, names added)."""
    from google.cloud import bigquery
    with self._lock:
      current = self.table_schema()
      have = {f.name.lower() for f in current.fields}
      missing = [s for s in specs if s.name.lower() not in have]
      if not missing:
        return current, []
      client = self._get_client()
      for spec in missing:
        client.query(f'ALTER TABLE `{self._table_id}` ADD COLUMN IF NOT EXISTS '
                     f'`{spec.name}` {sql_type(spec)}').result()
      table = client.get_table(self._table_id)
      shown = {f.name.lower() for f in table.schema}
      if any(s.name.lower() not in shown for s in missing):
        # DDL altered the data but not the metadata (bqemulator): update the metadata too.
        table.schema = list(table.schema) + [
            bigquery.SchemaField.from_api_repr(s.to_json()) for s in missing
            if s.name.lower() not in shown]
        table = client.update_table(table, ['schema'])
      return load_schema([f.to_api_repr() for f in table.schema]), [s.name for s in missing]
