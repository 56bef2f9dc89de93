"""MaskPII: the masking policy applied to validated rows in the pipeline, and the erase list
applied to their subjects.
"""

import json
import logging

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_pipelines.transforms.core.batches import batch_hint, batched_or_not, check_batched
from beam_pipelines.transforms.core.dead_letter import (DEAD_LETTER_TAG, ROWS_TAG, make_dead_letter,
                                                        pipeline_name_of)
from beam_pipelines.transforms.core.elements import (RowDict, UnsupportedElement, row_dict,
                                                     source_id_of, unsupported_element_dead_letter,
                                                     with_source_id, without_source_id)
from beam_pipelines.transforms.core.outputs import fallible_result
from beam_pipelines.transforms.masking.binding import subject_getter
from beam_pipelines.transforms.masking.keys import DerivedKeys
from beam_pipelines.transforms.masking.maskers import compile_row_masker
from beam_pipelines.transforms.masking.step_support import (EraseMixin, bind_if_needed, check_key,
                                                            erase_side_input, payload_hash,
                                                            schema_and_policy)

_LOG = logging.getLogger(__name__)


class _MaskRowsFn(EraseMixin, beam.DoFn):

  def __init__(self, bound, key, subject_field, static_erase, pipeline_name):
    self._bound = bound
    self._key = key
    self._subject_field = subject_field
    self._static_erase = static_erase
    self._pipeline_name = pipeline_name
    self._masked = Metrics.counter('mask', 'rows')
    self._erased = Metrics.counter('mask', 'erased')
    self._failed = Metrics.counter('mask', 'failed')

  def setup(self):
    self._keys = DerivedKeys(self._key)
    self._mask = compile_row_masker(self._bound, self._keys)
    self._subject = (subject_getter(self._bound.schema, self._subject_field)
                     if self._subject_field else None)
    self._setup_erase()

  def process(self, element, erase_ids=None):
    try:
      row = row_dict(element)
    except UnsupportedElement:
      self._failed.inc()
      yield beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, unsupported_element_dead_letter(
          element, 'mask', 'MaskPII', 'rows (dicts or beam.Rows)', self._pipeline_name))
      return
    source_id = source_id_of(row)
    row = without_source_id(row)
    erase = self._erase_set(erase_ids)
    if erase and self._subject is not None and self._subject(row) in erase:
      self._erased.inc()
      return
    try:
      masked = self._mask(row)
    except Exception as e:  # pylint: disable=broad-except
      # A bug of ours must not lose the record, nor leak it: the dead letter keeps only a
      # keyed hash of the row, and the message only the exception type.
      self._failed.inc()
      _LOG.error('masking failed with %s (row not logged)', type(e).__name__)
      raw = json.dumps(row, sort_keys=True, default=str).encode('utf-8')
      yield beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, make_dead_letter(
          payload_hash(self._keys, raw), stage='mask', error_type='mask_failed',
          message=f'masking failed: {type(e).__name__} (row replaced by its hash)',
          attributes={'masking_key_id': self._keys.key_id}, source_id=source_id,
          pipeline=self._pipeline_name))
      return
    self._masked.inc()
    yield with_source_id(masked, source_id)


class MaskPII(beam.PTransform):
  """Applies a masking policy to validated rows, and suppresses erased subjects.

  Args:
    schema: the *input* table schema (what ParseAndValidate validated against): a path, the
      JSON (dict or list) or a ``TableSchema``.
    policy: a policy file path, text, dict, MaskingPolicy or BoundPolicy.
    key: a ``MaskingKey`` (``MaskingKey.load('env:VAR')``); required.
    subject_field: dotted path of the subject id (``user.id``), for the erase list.
    erase_ids: a PCollection holding one frozenset (``LoadEraseList``: batch), a
      ``ReloadingEraseList`` (re-read every N seconds by each worker: streaming) or an
      iterable of ids.
    pipeline_name: recorded in each dead letter (default: the pipeline's ``--pipeline_name``
      or ``--job_name`` option).
    batched: input and output rows are batches (lists) of rows
      (``beam_pipelines.transforms.core.batches``; ``TimedBatches``: timed batches).

  Input: rows (dicts or ``beam.Row``s). Outputs a ``FallibleResult``: ``rows`` masked per
  policy (shape: ``output_schema``, which is ``masked_schema(schema, policy)``), and
  ``dead_letters`` (stage ``mask``: an element that is not a row, or a row that cannot be
  masked: its payload is then a keyed hash of the row). Rows of erased subjects are dropped
  and counted ``mask/erased``. Counters: ``mask/rows``, ``mask/erased``, ``mask/failed``.
  Raises ValueError at construction for a bad policy (naming the path and problem) or a bad
  subject field.

  Example::

      key = MaskingKey.load('env:MASKING_KEY')
      masked = parsed.rows | 'MaskPII' >> MaskPII('schema.json', 'policy.yaml', key)
      masked.rows | WriteRowsToBigQuery(masked_schema('schema.json', 'policy.yaml'), cfg)
  """

  def __init__(self, schema, policy, key, *, subject_field=None, erase_ids=None,
               pipeline_name=None, batched=False, label=None):
    super().__init__(label)
    schema, policy = schema_and_policy('MaskPII', schema, policy)
    self._bound = bind_if_needed(policy, schema)
    self._key = check_key(key, self._bound)
    if subject_field:
      subject_getter(self._bound.schema, subject_field)  # raises ValueError naming it
    elif erase_ids is not None:
      raise ValueError('erase_ids needs subject_field (which field holds the subject id)')
    self._subject_field = subject_field
    self._erase_ids = erase_ids
    self._pipeline_name = pipeline_name
    self._batched = check_batched(batched, 'MaskPII')

  @property
  def output_schema(self):
    """The schema of the masked rows (``masked_schema(schema, policy)``)."""
    return self._bound.output_schema

  def expand(self, rows):
    side, static = erase_side_input(self._erase_ids)
    outputs = rows | 'Mask' >> beam.ParDo(
        batched_or_not(_MaskRowsFn(self._bound, self._key, self._subject_field, static,
                                   pipeline_name_of(rows.pipeline, self._pipeline_name)),
                       self._batched),
        **side).with_output_types(batch_hint(self._batched, RowDict)).with_outputs(
            DEAD_LETTER_TAG, main=ROWS_TAG)
    return fallible_result(outputs, self.output_schema)
