"""Validation against a BigQuery table schema: the schema, its types, ``ParseAndValidate`` and
schema drift.

- ``schema``: ``load_schema`` (the JSON of ``bq mk``) -> ``TableSchema`` of ``FieldSpec``s.
- ``bq_types`` / ``bq_temporal`` / ``geography`` / ``field_error``: one converter per BigQuery
  type, value in, BigQuery JSON value out, or a ``FieldError`` naming the problem.
- ``validator``: ``RecordValidator`` (a whole record, compiled once) and ``ValidationPolicy``.
- ``parse``: ``ParseAndValidate``, the PTransform: decode + validate, dead letters for the rest.
- ``schema_drift`` / ``drift_inference`` / ``table_evolution``: new input fields, dead-lettered
  or added to the BigQuery table.
"""

from beam_pipelines.transforms.validate.parse import DEFAULT_MAX_RECORD_BYTES, ParseAndValidate, ParseConfig
from beam_pipelines.transforms.core.schema import FieldSpec, TableSchema, load_schema
from beam_pipelines.transforms.validate.schema_drift import (DRIFT_MODES, HandleSchemaDrift, SchemaDriftConfig,
                                              drift_policy)
from beam_pipelines.transforms.validate.validator import (MAX_PROBLEMS_REPORTED, NON_FINITE_POLICIES,
                                           UNKNOWN_FIELD_POLICIES, FieldProblem,
                                           RecordValidator, ValidationPolicy, summarize)

__all__ = ['DEFAULT_MAX_RECORD_BYTES', 'DRIFT_MODES', 'FieldProblem', 'FieldSpec',
           'HandleSchemaDrift', 'MAX_PROBLEMS_REPORTED', 'NON_FINITE_POLICIES', 'ParseAndValidate',
           'ParseConfig', 'RecordValidator', 'SchemaDriftConfig', 'TableSchema',
           'UNKNOWN_FIELD_POLICIES', 'ValidationPolicy', 'drift_policy', 'load_schema',
           'summarize']
