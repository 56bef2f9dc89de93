"""What a fallible transform returns, typed, and the schema its rows have.

``fallible_result`` turns a ParDo's tagged outputs into a ``FallibleResult`` whose
PCollections carry element types (rows: ``Dict[str, Any]``; dead letters: the record), so
Beam checks a pipeline at construction. It also remembers the table schema of the rows
(``schema_of``), which a sink given ``schema=None`` uses: the masked schema after
``MaskPII``, the enriched one after ``EnrichWithSideInput``, so a user cannot silently write
rows with the schema of an earlier step.
"""

import weakref
from typing import Any

from beam_pipelines.transforms.core.dead_letter import DEAD_LETTER_TAG, ROWS_TAG, FallibleResult
from beam_pipelines.transforms.core.elements import DeadLetter, RowDict

_SCHEMAS: 'weakref.WeakKeyDictionary[Any, Any]' = weakref.WeakKeyDictionary()  # PCollection -> TableSchema of its rows


def remember_schema(rows, schema):
  """Records ``schema`` as the table schema of the rows of ``rows``; returns ``rows``."""
  if schema is not None:
    _SCHEMAS[rows] = schema
  return rows


def schema_of(rows):
  """The table schema a suite transform recorded for ``rows``, or None."""
  try:
    return _SCHEMAS.get(rows)
  except TypeError:  # not a PCollection (a list, a tuple of PCollections...)
    return None


def typed_dead_letters(dead_letters):
  """``dead_letters`` with its element type set (a tagged output's type is Any in Beam)."""
  dead_letters.element_type = DeadLetter
  return dead_letters


def fallible_result(outputs, schema=None, rows_tag=ROWS_TAG):
  """FallibleResult(rows, dead letters) of a ParDo ``.with_outputs(DEAD_LETTER_TAG,
  main=rows_tag)``, with element types set and the rows' table schema remembered."""
  rows = outputs[rows_tag]
  if rows.element_type in (None, object) or str(rows.element_type) == 'Any':
    rows.element_type = RowDict
  return FallibleResult(rows=remember_schema(rows, schema),
                        dead_letters=typed_dead_letters(outputs[DEAD_LETTER_TAG]))
