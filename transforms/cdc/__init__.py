"""Change data capture into BigQuery: a replica, a change log and an SCD type 2 history.

- ``config``: ``ChangeFormatConfig`` (how records are read), ``MergeConfig`` (where and how
  often changes are applied), ``ValueModes``.
- ``ordering``: the order of changes as one sortable string (``encode_order``).
- ``change``: the decoded change, its errorTypes, the change row and change-log row.
- ``formats``: one decoder a format (``debezium`` with ``connect_types``, ``datastream``,
  ``generic``).
- ``decode``: ``DecodeChanges`` (records -> validated change rows + dead letters) and
  ``SplitChanges``.
- ``images``: change rows through MaskPII and enrichment (policy binding, key checks).
- ``tables``: the replica, change-log and history schemas.
- ``merge_sql`` / ``apply``: ``ApplyChanges``, the staged, transactional, idempotent merge.
- ``storage_write``: ``ApplyWithStorageWriteCdc``, BigQuery's native CDC (Dataflow only).

docs/cdc.md states the rules.
"""

from beam_pipelines.transforms.cdc.apply import ApplyChanges, Merger, MergeOutcome
from beam_pipelines.transforms.cdc.change import (ERROR_TYPES, OPS, ChangeError, DecodedChange,
                                                  to_changelog_row)
from beam_pipelines.transforms.cdc.config import (APPLY_MODES, CDC_FORMATS, DECIMAL_MODES,
                                                  TEMPORAL_MODES, ChangeFormatConfig,
                                                  MergeConfig, ValueModes)
from beam_pipelines.transforms.cdc.decode import DecodeChanges, SplitChanges
from beam_pipelines.transforms.cdc.images import bind_change_policy, processed_row_schema
from beam_pipelines.transforms.cdc.ordering import encode_order
from beam_pipelines.transforms.cdc.tables import (changelog_schema, check_row_schema,
                                                  history_schema, replica_schema)

__all__ = ['APPLY_MODES', 'ApplyChanges', 'CDC_FORMATS', 'ChangeError', 'ChangeFormatConfig',
           'DECIMAL_MODES', 'DecodeChanges', 'DecodedChange', 'ERROR_TYPES', 'MergeConfig',
           'MergeOutcome', 'Merger', 'OPS', 'SplitChanges', 'TEMPORAL_MODES', 'ValueModes',
           'bind_change_policy', 'changelog_schema', 'check_row_schema', 'encode_order',
           'history_schema', 'processed_row_schema', 'replica_schema', 'to_changelog_row']
