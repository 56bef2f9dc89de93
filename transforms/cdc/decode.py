"""DecodeChanges: raw messages in, validated change rows and dead letters out."""

import logging

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_pipelines.transforms import beam_patches
from beam_pipelines.transforms.cdc.change import (META, MISSING_KEY, MISSING_SOURCE_TIME,
                                                  ROW_OPS, ChangeError, Skip, micros_text)
from beam_pipelines.transforms.cdc.config import ChangeFormatConfig
from beam_pipelines.transforms.cdc.formats import make_decoder
from beam_pipelines.transforms.cdc.tables import check_row_schema, relaxed_schema
from beam_pipelines.transforms.core.dead_letter import (DEAD_LETTER_TAG, ROWS_TAG,
                                                        FallibleResult,
                                                        dead_letter_from_message,
                                                        format_timestamp)
from beam_pipelines.transforms.validate.parse import ParseConfig
from beam_pipelines.transforms.core.schema import load_schema
from beam_pipelines.transforms.validate.validator import RecordValidator, summarize

_LOG = logging.getLogger(__name__)
NAMESPACE = 'cdc'
UPSERTS_TAG, DELETES_TAG, TRUNCATES_TAG = 'upserts', 'deletes', 'truncates'


class _DecodeChangesFn(beam.DoFn):

  def __init__(self, config, schema, parse, primary_key):
    self._config = config
    self._schema = schema
    self._parse = parse
    self._pk = primary_key
    self._counters = {name: Metrics.counter(NAMESPACE, name) for name in (
        'tombstones', 'messages_skipped', 'changes_c', 'changes_r', 'changes_u', 'changes_d',
        'changes_t')}
    self._parse_failed = Metrics.counter('parse', 'failed')
    self._invalid = Metrics.counter('validate', 'failed')
    self._patches = beam_patches.enabled()

  def setup(self):
    beam_patches.ensure(self._patches)
    self._decoder = make_decoder(self._config, self._schema)
    self._validator = RecordValidator(self._schema, self._parse.policy)
    self._delete_validator = RecordValidator(relaxed_schema(self._schema), self._parse.policy)

  def process(self, message):
    try:
      if len(message.payload) > self._parse.max_record_bytes:
        self._parse_failed.inc()
        yield self._dead(message, 'parse', 'payload_too_large',
                         f'payload of {len(message.payload)} bytes exceeds the limit of '
                         f'{self._parse.max_record_bytes} bytes')
        return
      decoded = self._decoder.decode(message.payload, message.attributes)
      if isinstance(decoded, Skip):
        self._counters['tombstones' if decoded.kind == 'tombstone' else
                       'messages_skipped'].inc()
        return
      row = self._row(decoded)
      if self._config.require_source_time and decoded.source_ts_us is None:
        raise ChangeError(MISSING_SOURCE_TIME, 'the change has no source time, which the '
                          'history table needs (valid_from)')
      row[META] = {
          'op': decoded.op, 'order': decoded.order, 'position': decoded.position,
          'source_ts': (None if decoded.source_ts_us is None
                        else micros_text(decoded.source_ts_us)),
          'source': decoded.source, 'source_id': message.source_id,
          'read_at': format_timestamp(message.ingest_time)}
      self._counters['changes_' + decoded.op].inc()
      yield row
    except ChangeError as e:
      (self._invalid if e.stage == 'validate' else self._parse_failed).inc()
      yield self._dead(message, e.stage, e.error_type, e.detail)
    except Exception as e:  # pylint: disable=broad-except
      # A bug of ours must not lose the record or crash-loop the pipeline.
      _LOG.exception('unexpected error decoding %s', message.source_id)
      self._parse_failed.inc()
      yield self._dead(message, 'parse', 'internal_error', f'{type(e).__name__}: {e}', exc=e)

  def _row(self, decoded):
    if decoded.op == 't':
      return {}
    if decoded.op in ROW_OPS:
      row, problems = self._validator.validate(decoded.image)
    else:
      image = dict(decoded.image or {})
      lowered = {k.lower(): k for k in image if isinstance(k, str)}
      for name, value in (decoded.key_image or {}).items():
        present = lowered.get(name.lower()) if isinstance(name, str) else None
        if present is None or image[present] is None:
          image[present or name] = value
      row, problems = self._delete_validator.validate(image)
    if problems:
      error_type, reason = summarize(problems)
      raise ChangeError(error_type, reason, stage='validate')
    missing = [k for k in self._pk if row.get(k) is None]
    if missing:
      where = 'after' if decoded.op in ROW_OPS else 'before image or message key'
      raise ChangeError(MISSING_KEY, f'primary key column(s) {", ".join(missing)} missing or '
                        f'NULL in the {where}')
    return row

  def _dead(self, message, stage, error_type, reason, exc=None):
    return beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, dead_letter_from_message(
        message, stage=stage, error_type=error_type, reason=reason,
        pipeline=self._parse.pipeline_name, exc=exc))


class DecodeChanges(beam.PTransform):
  """Decodes change records (Debezium, Datastream or generic) into validated change rows.

  Each RawMessage becomes one change row (the row image, validated against ``schema`` like
  ParseAndValidate validates rows, plus ``_cdc``: op, order, source time, source metadata),
  is skipped and counted (tombstones ``cdc/tombstones``; Debezium ``op: m``
  ``cdc/messages_skipped``), or becomes a dead letter with a stable errorType: ``invalid_json``,
  ``cdc_malformed_envelope``, ``cdc_unknown_op``, ``cdc_missing_order``, ``cdc_missing_after``,
  ``cdc_truncate``, ``cdc_missing_source_time`` (stage ``parse``), ``missing_primary_key``,
  ``cdc_undecodable:<column>`` or the validator's own (``type_mismatch:<column>``...; stage
  ``validate``). A delete's image is its ``before`` image completed by the message key and
  validated with every column NULLABLE. Nothing raises for bad data.

  Outputs a ``FallibleResult``: ``rows`` (change rows) and ``dead_letters``. Counters
  ``cdc/changes_<op>``, ``cdc/tombstones``, ``cdc/messages_skipped``, ``parse/failed``,
  ``validate/failed``.

  Example::

      changes = messages | DecodeChanges(ChangeFormatConfig(primary_key=('id',)),
                                         'schema.json')
      changes.rows | SplitChanges() ...
  """

  def __init__(self, config, schema, parse=None, label=None):
    super().__init__(label)
    if not isinstance(config, ChangeFormatConfig):
      raise ValueError(f'config must be a ChangeFormatConfig, got {type(config).__name__}')
    self._parse = parse or ParseConfig()
    if not isinstance(self._parse, ParseConfig) or self._parse.format != 'json':
      raise ValueError('parse must be a ParseConfig of format json (change records are JSON)')
    self._config = config
    self._schema = load_schema(schema)
    self._pk = check_row_schema(self._schema, config.primary_key)
    make_decoder(config, self._schema)  # raises ValueError for a bad combination

  def expand(self, messages):
    outputs = messages | 'Decode' >> beam.ParDo(_DecodeChangesFn(
        self._config, self._schema, self._parse, self._pk)).with_outputs(
            DEAD_LETTER_TAG, main=ROWS_TAG)
    return FallibleResult(rows=outputs[ROWS_TAG], dead_letters=outputs[DEAD_LETTER_TAG])


class _SplitFn(beam.DoFn):
  def process(self, change_row):
    op = change_row[META]['op']
    if op in ROW_OPS:
      yield change_row
    else:
      yield beam.pvalue.TaggedOutput(DELETES_TAG if op == 'd' else TRUNCATES_TAG, change_row)


class SplitChanges(beam.PTransform):
  """Change rows -> a DoOutputsTuple: ``upserts`` (c/r/u, the main output), ``deletes`` and
  ``truncates``, so each kind takes only the steps it needs (enrichment is for row images
  that are kept; a truncate has no image)."""

  def expand(self, changes):
    return changes | 'Split' >> beam.ParDo(_SplitFn()).with_outputs(
        DELETES_TAG, TRUNCATES_TAG, main=UPSERTS_TAG)
