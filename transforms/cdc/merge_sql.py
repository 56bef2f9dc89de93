"""The merge: one GoogleSQL script that applies a staged batch of changes in one transaction.

The change log is the source of truth; the replica and the history of every key the batch
touches are recomputed from it, so a merge is idempotent (running it again on the same batch,
after a crash or in a rerun, changes nothing) and the order in which batches arrive does not
matter:

1. ``_cdc_new``: the staged changes whose ``_cdc_change_id`` (key + order) the change log does
   not hold yet; they are inserted (a redelivery is stored once).
2. ``_cdc_keys``: the keys the batch touches (every key, when it holds a truncate and
   truncates are applied).
3. ``_cdc_events``: every change of those keys in the change log, plus (truncates applied)
   every truncate as a change of each key: a truncate deletes every row older than it.
4. The replica: per key the event with the highest order (ties: the change id) wins; a
   delete or truncate removes the row, anything else sets it; a row already holding that
   change is left alone. An older change arriving late is in the log but never wins.
5. The history (optional): the versions of the touched keys are rebuilt: each c/r/u event
   opens a version at its source time, closed (``valid_to``) at the next event's source time
   (a delete or truncate closes it and opens none); the last one is current
   (``is_current``). A key whose first event is a delete gets no version; a late change is
   slotted in between the versions it falls between.

The script's last statement returns ``applied`` (new changes) and ``keys`` (keys recomputed).
"""

from beam_pipelines.transforms.cdc.tables import CHANGELOG_META
from beam_pipelines.transforms.write.staged_script import quoted

_EVENT_META = ('_cdc_key', '_cdc_change_id', '_cdc_op', '_cdc_order', '_cdc_source_ts')
_GONE = "('d', 't')"
STAGING = '{staging}'  # replaced by the staging table (StagedScript)
# Temporary tables, named per run: BigQuery drops them with the script, the emulator keeps
# them (so each run drops its own, and names never clash).
NEW, KEYS, EVENTS, LATEST = (f'_cdc_{name}_{{run_id}}'
                             for name in ('new', 'keys', 'events', 'latest'))


def column(name):
  """A column name quoted for GoogleSQL."""
  return '`' + name.replace('`', '') + '`'


def _list(names, prefix=''):
  return ', '.join(prefix + column(n) for n in names)


def merge_script(row_columns, primary_key, changelog_ref, replica_ref, history_ref=None,
                 apply_truncate=False):
  """The merge script for a staged batch (``{staging}`` names the staging table, ``{run_id}``
  makes its temporary tables' names unique).

  Args:
    row_columns: the row's column names (the replica's, without ``_cdc_*``).
    primary_key: the key columns (a subset of ``row_columns``).
    changelog_ref / replica_ref / history_ref: ``project.dataset.table`` references.
    apply_truncate: truncates in the log delete every older row.
  """
  cols = list(row_columns)
  keys = list(primary_key)
  missing = [k for k in keys if k not in cols]
  if missing:
    raise ValueError(f'primary_key {missing} not among the row columns')
  log, replica = quoted(changelog_ref), quoted(replica_ref)
  log_cols = cols + [f.name for f in CHANGELOG_META]
  parts = ['DECLARE applied INT64 DEFAULT 0;', 'DECLARE touched INT64 DEFAULT 0;',
           'BEGIN TRANSACTION;', f"""
CREATE TEMP TABLE {NEW} AS
SELECT s.* FROM {STAGING} AS s
WHERE NOT EXISTS (SELECT 1 FROM {log} AS c WHERE c._cdc_change_id = s._cdc_change_id);""", f"""
INSERT INTO {log} ({_list(log_cols)})
SELECT {_list(log_cols)} FROM {NEW};"""]
  key_cols = ['_cdc_key'] + keys
  touched = f"SELECT DISTINCT {_list(key_cols)} FROM {STAGING} WHERE _cdc_op != 't'"
  if apply_truncate:
    touched += (f"\nUNION DISTINCT\nSELECT DISTINCT {_list(key_cols)} FROM {log} "
                f"WHERE _cdc_op != 't'\n  AND EXISTS (SELECT 1 FROM {STAGING} "
                f"WHERE _cdc_op = 't')")
  parts.append(f'\nCREATE TEMP TABLE {KEYS} AS\n{touched};')
  event_cols = cols + list(_EVENT_META)
  events = (f'SELECT {_list(event_cols, "c.")} FROM {log} AS c\n'
            f'JOIN {KEYS} AS k ON c._cdc_key = k._cdc_key')
  if apply_truncate:
    truncate_cols = [('k.' + column(n)) if n in keys else f'NULL AS {column(n)}'
                     for n in cols]
    truncate_cols += ['k._cdc_key', 't._cdc_change_id', 't._cdc_op', 't._cdc_order',
                      't._cdc_source_ts']
    events += (f"\nWHERE c._cdc_op != 't'\nUNION ALL\nSELECT {', '.join(truncate_cols)}\n"
               f"FROM {KEYS} AS k CROSS JOIN {log} AS t WHERE t._cdc_op = 't'")
  parts.append(f'\nCREATE TEMP TABLE {EVENTS} AS\n{events};')
  parts.append(f"""
CREATE TEMP TABLE {LATEST} AS
SELECT * FROM {EVENTS} WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY _cdc_key ORDER BY _cdc_order DESC,
                                                            _cdc_change_id DESC) = 1;""")
  replica_meta = ['_cdc_op', '_cdc_order', '_cdc_source_ts']
  on = ' AND '.join(f'r.{column(k)} = e.{column(k)}' for k in keys)
  updates = ', '.join(f'{column(n)} = e.{column(n)}' for n in cols + replica_meta
                      if n not in keys)
  parts.append(f"""
MERGE {replica} AS r
USING {LATEST} AS e
ON {on}
WHEN MATCHED AND e._cdc_op IN {_GONE} THEN DELETE
WHEN MATCHED AND r._cdc_order != e._cdc_order THEN UPDATE SET {updates}
WHEN NOT MATCHED AND e._cdc_op NOT IN {_GONE} THEN
  INSERT ({_list(cols + replica_meta)}) VALUES ({_list(cols + replica_meta, 'e.')});""")
  if history_ref:
    history = quoted(history_ref)
    window = 'PARTITION BY _cdc_key ORDER BY _cdc_order, _cdc_change_id'
    history_cols = cols + ['valid_from', 'valid_to', 'is_current', '_cdc_key', '_cdc_op',
                           '_cdc_order']
    parts.append(f"""
DELETE FROM {history} WHERE _cdc_key IN (SELECT _cdc_key FROM {KEYS});
INSERT INTO {history} ({_list(history_cols)})
SELECT {_list(cols)}, _cdc_source_ts, _cdc_next_ts, _cdc_next_order IS NULL, _cdc_key,
       _cdc_op, _cdc_order
FROM (
  SELECT {_list(event_cols)},
         LEAD(_cdc_source_ts) OVER ({window}) AS _cdc_next_ts,
         LEAD(_cdc_order) OVER ({window}) AS _cdc_next_order
  FROM {EVENTS}
) AS v
WHERE _cdc_op NOT IN {_GONE};""")
  parts += [f'\nSET applied = (SELECT COUNT(*) FROM {NEW});',
            f'SET touched = (SELECT COUNT(*) FROM {KEYS});',
            'COMMIT TRANSACTION;', '']
  parts += [f'DROP TABLE IF EXISTS {name};' for name in (NEW, KEYS, EVENTS, LATEST)]
  parts.append('SELECT applied, touched AS keys;')
  return '\n'.join(parts) + '\n'
