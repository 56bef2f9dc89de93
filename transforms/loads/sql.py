"""The commit script: one transaction that makes a commit's rows, dead letters (and other
tables' rows) and manifest entries visible together.

    BEGIN TRANSACTION;
    IF NOT EXISTS (SELECT 1 FROM manifest WHERE run_id = '<commit>') THEN  -- once per commit
      [replace: DELETE the table (or the partitions the staged rows touch);
                DELETE the dead letters of the commit's files]
      [reload:  DELETE the earlier rows and dead letters of the changed files]
      INSERT INTO <each table> SELECT ... FROM <its staging table>
        WHERE the row's file is fresh (or the row has no file and some file is fresh);
      INSERT INTO manifest SELECT one row per fresh file (rows and dead letters counted);
    END IF;
    COMMIT TRANSACTION;
    SELECT what the manifest holds of this commit;

A commit of a streaming run that offers no file (its window brought only aggregates or
dead letters of no file's load) offers a *marker* instead: a manifest row with an empty
path and action ``commit``, always fresh, which makes that commit idempotent too.

A file is *fresh* when the manifest lists it as many times as when the run looked
(``previous_loads``): another run that loaded it meanwhile makes it stale, and its rows are
left out (optimistic concurrency). The ``IF`` makes the script idempotent: a retried commit
whose first attempt went through (its answer lost) changes nothing.
"""

from typing import NamedTuple, Optional

from beam_pipelines.transforms.core.table_layout import TableLayout
from beam_pipelines.transforms.loads.manifest import (COMMIT_MARKER, LOAD_FILE_COLUMN,
                                                      MANIFEST_FIELDS)
from beam_pipelines.transforms.write.staged_script import quoted

ROWS, DEAD_LETTERS = 'rows', 'dead_letters'
_FILE_OF_SOURCE_ID = r"REGEXP_EXTRACT(sourceId, r'^(.+):[0-9]+$')"


def sql_string(text):
  """A GoogleSQL string literal of ``text``."""
  return "'" + str(text).replace('\\', '\\\\').replace("'", "\\'") + "'"


def _column(name):
  return '`' + name.replace('`', '') + '`'


class Target(NamedTuple):
  """A table the commit writes: its role (``rows``, ``dead_letters``, ``aggregates``...),
  ``ref`` (project.dataset.table), column names, the staging table holding its rows (None:
  nothing staged) and its layout (replace scope)."""
  role: str
  ref: str
  columns: tuple
  staging: Optional[str] = None
  layout: Optional[TableLayout] = None
  base64_columns: tuple = ()  # ((name, repeated), ...) staged as base64 text


def _staged_value(column, base64_columns):
  """The SELECT expression of a staged column (base64 text back to BYTES)."""
  value = f's.{_column(column)}'
  repeated = dict(base64_columns).get(column)
  if repeated is None:
    return value
  if repeated:
    return f'ARRAY(SELECT FROM_BASE64(b) FROM UNNEST({value}) AS b)'
  return f'FROM_BASE64({value})'


class CommitSql:
  """Builds the script of one commit (see the module docstring)."""

  def __init__(self, mode, manifest_ref, files_ref, commit_id, pipeline=None,
               output_table=None, source_file_column=None):
    self.mode = mode
    self.manifest = quoted(manifest_ref)
    self.files = quoted(files_ref)
    self.commit_id = commit_id
    self.pipeline = pipeline
    self.output_table = output_table
    self.source_file_column = source_file_column

  @property
  def fresh(self):
    """SQL: file ``f`` is fresh (replace: every file of the run)."""
    if self.mode == 'replace':
      return 'TRUE'
    return (f"(f.action = '{COMMIT_MARKER}' OR f.previous_loads = (SELECT COUNT(*) FROM "
            f'{self.manifest} AS m WHERE m.path = f.path))')

  def fresh_paths(self, extra=''):
    return f'(SELECT f.path FROM {self.files} AS f WHERE {self.fresh}{extra})'

  def script(self, targets):
    by_role = {t.role: t for t in targets}
    body = []
    if self.mode == 'replace':
      body += [self._replace(t) for t in targets if t.role != DEAD_LETTERS]
      if DEAD_LETTERS in by_role:
        body.append(f'DELETE FROM {quoted(by_role[DEAD_LETTERS].ref)} WHERE '
                    f'{_FILE_OF_SOURCE_ID} IN {self.fresh_paths()}')
    else:
      body += self._reloads(by_role)
    body += [self._insert(t) for t in targets if t.staging]
    body.append(self._manifest_insert(by_role))
    statements = '\n    '.join(s + ';' for s in body if s)
    commit = sql_string(self.commit_id)
    return (f'BEGIN TRANSACTION;\n'
            f'IF NOT EXISTS (SELECT 1 FROM {self.manifest} WHERE run_id = {commit}) THEN\n'
            f'    {statements}\n'
            f'END IF;\n'
            f'COMMIT TRANSACTION;\n'
            f"SELECT IFNULL(SUM(CASE WHEN action = '{COMMIT_MARKER}' THEN 0 ELSE 1 END), 0) "
            f'AS files, IFNULL(SUM(`rows`), 0) AS `rows`, '
            f'IFNULL(SUM(dead_letters), 0) AS dead_letters FROM {self.manifest} '
            f'WHERE run_id = {commit};')

  def _insert(self, target):
    columns = ', '.join(_column(c) for c in target.columns)
    source = ', '.join(_staged_value(c, target.base64_columns) for c in target.columns)
    file = f's.{LOAD_FILE_COLUMN}'
    some_fresh = f'EXISTS (SELECT 1 FROM {self.files} AS f WHERE {self.fresh})'
    # A row of a file the commit does not offer belongs to no file's load (a changed or
    # missing file's dead letter, a late row's): it goes in with the commit as it is.
    offered = f'(SELECT f.path FROM {self.files} AS f)'
    return (f'INSERT INTO {quoted(target.ref)} ({columns}) SELECT {source} FROM '
            f'{quoted(target.staging)} AS s WHERE {file} IN {self.fresh_paths()} OR '
            f'({file} IS NULL AND {some_fresh}) OR {file} NOT IN {offered}')

  def _replace(self, target):
    """DELETE the table's content, or the partitions the staged rows touch."""
    table = quoted(target.ref)
    layout = target.layout
    if layout is None or not layout.partitioned:
      return f'DELETE FROM {table} WHERE TRUE'
    if target.staging is None:
      return ''  # touches no partition
    if layout.ingestion_time:
      granularity = layout.partition_granularity
      return (f'DELETE FROM {table} WHERE {layout.partition_key_sql()} = '
              f'TIMESTAMP_TRUNC(CURRENT_TIMESTAMP(), {granularity})')
    staging = quoted(target.staging)
    column = _column(layout.partition_field)
    return (f'DELETE FROM {table} WHERE {layout.partition_key_sql()} IN (SELECT DISTINCT '
            f'{layout.partition_key_sql("s")} FROM {staging} AS s) OR ({column} IS NULL AND '
            f'EXISTS (SELECT 1 FROM {staging} AS s WHERE s.{column} IS NULL))')

  def _reloads(self, by_role):
    """DELETE what earlier loads of the changed files committed."""
    reloaded = self.fresh_paths(" AND f.action = 'reload'")
    out = []
    if ROWS in by_role and self.source_file_column:
      out.append(f'DELETE FROM {quoted(by_role[ROWS].ref)} WHERE '
                 f'{_column(self.source_file_column)} IN {reloaded}')
    if DEAD_LETTERS in by_role:
      out.append(f'DELETE FROM {quoted(by_role[DEAD_LETTERS].ref)} WHERE '
                 f'{_FILE_OF_SOURCE_ID} IN {reloaded}')
    return out

  def _count(self, target):
    if target is None or not target.staging:
      return '0'
    return (f'(SELECT COUNT(*) FROM {quoted(target.staging)} AS c WHERE '
            f'c.{LOAD_FILE_COLUMN} = f.path)')

  def _manifest_insert(self, by_role):
    names = ', '.join(_column(f['name']) for f in MANIFEST_FIELDS)
    values = ', '.join([
        'f.path', 'f.identity', 'f.size_bytes', 'f.modified',
        self._count(by_role.get(ROWS)), self._count(by_role.get(DEAD_LETTERS)),
        sql_string(self.commit_id), 'CURRENT_TIMESTAMP()', 'f.action',
        'NULL' if self.pipeline is None else sql_string(self.pipeline),
        'NULL' if self.output_table is None else sql_string(self.output_table)])
    return (f'INSERT INTO {self.manifest} ({names}) SELECT {values} FROM {self.files} AS f '
            f'WHERE {self.fresh}')
