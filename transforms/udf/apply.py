"""ApplyUserFunction: a user-supplied Python function applied to every row, safely.

The Python counterpart of DataflowTemplates' JavaScript UDFs. The function takes a row (a
dict in BigQuery JSON form) and returns a row, a list of rows (fan-out) or None (drop the
row on purpose; counted as ``user/dropped``). An exception inside it becomes a dead letter
(stage ``user``, errorType ``udf_error:<ExceptionType>``) with the stack trace: a bug in
user code never crash-loops the pipeline and never loses the record.

Functions are named ``package.module:function`` or ``/path/to/file.py:function`` and loaded
on the worker, so they need not be picklable.
"""

import importlib
import importlib.util
import json
import os

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_pipelines.transforms.core.batches import batch_hint, batched_or_not, check_batched
from beam_pipelines.transforms.core.dead_letter import (DEAD_LETTER_TAG, ROWS_TAG, format_exception,
                                                        make_dead_letter, pipeline_name_of)
from beam_pipelines.transforms.core.elements import (RowDict, UnsupportedElement, row_dict,
                                                     source_id_of,
                                                     unsupported_element_dead_letter,
                                                     with_source_id, without_source_id)
from beam_pipelines.transforms.core.outputs import fallible_result


def load_function(spec):
  """Resolves ``module:function`` or ``file.py:function``; ValueError naming what failed."""
  if not isinstance(spec, str) or ':' not in spec:
    raise ValueError(f'udf must look like package.module:function or file.py:function, '
                     f'got {spec!r}')
  where, name = spec.rsplit(':', 1)
  try:
    if where.endswith('.py'):
      if not os.path.isfile(where):
        raise ValueError(f'udf file {where!r} does not exist')
      module_spec = importlib.util.spec_from_file_location(
          f'_beam_pipelines_udf_{abs(hash(where))}', where)
      module = importlib.util.module_from_spec(module_spec)
      module_spec.loader.exec_module(module)
    else:
      module = importlib.import_module(where)
  except ValueError:
    raise
  except Exception as e:  # any import-time failure of user code
    raise ValueError(f'cannot load udf {spec!r}: {type(e).__name__}: {e}') from None
  fn = getattr(module, name, None)
  if not callable(fn):
    raise ValueError(f'udf {spec!r}: {name!r} is not a function of {where!r}')
  return fn


class _ApplyFn(beam.DoFn):
  def __init__(self, spec, pipeline_name):
    self._spec = spec
    self._pipeline_name = pipeline_name
    self._fn = None
    self._ok = Metrics.counter('user', 'ok')
    self._failed = Metrics.counter('user', 'failed')
    self._dropped = Metrics.counter('user', 'dropped')

  def setup(self):
    self._fn = load_function(self._spec)

  def process(self, element):
    try:
      row = row_dict(element)
    except UnsupportedElement:
      self._failed.inc()
      yield beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, unsupported_element_dead_letter(
          element, 'user', 'ApplyUserFunction', 'rows (dicts or beam.Rows)',
          self._pipeline_name))
      return
    source_id = source_id_of(row)
    row = without_source_id(row)  # the user function sees the row as the table holds it
    try:
      result = self._fn(row)
      if result is None:
        self._dropped.inc()
        return
      results = result if isinstance(result, list) else [result]
      for item in results:
        if not isinstance(item, dict):
          raise TypeError(f'udf returned {type(item).__name__}, expected a dict row')
      for item in results:
        self._ok.inc()
        yield with_source_id(item, source_id)
    except Exception as e:  # pylint: disable=broad-except
      self._failed.inc()
      yield beam.pvalue.TaggedOutput(DEAD_LETTER_TAG, make_dead_letter(
          json.dumps(row, ensure_ascii=False, default=str), stage='user',
          error_type=f'udf_error:{type(e).__name__}',
          message=f'{self._spec} raised {type(e).__name__}: {e}',
          stacktrace=format_exception(e), source_id=source_id, pipeline=self._pipeline_name))


class ApplyUserFunction(beam.PTransform):
  """Applies a user function to rows; returns ``FallibleResult(rows, dead_letters)``.

  The function takes a row (a dict, without the source id key) and returns a row, a list of
  rows, or None (dropped on purpose, counted ``user/dropped``). An exception it raises, or a
  result that is not a dict, becomes a dead letter (stage ``user``, errorType
  ``udf_error:<ExceptionType>``, the record's source id kept). Input: rows (dicts or
  ``beam.Row``s); another kind of element is a dead letter ``unsupported_element:<kind>``.

  Args:
    spec: ``package.module:function`` or ``/path/file.py:function``.
    pipeline_name: recorded in each dead letter (default: the pipeline's options).
    batched: input and output rows are batches (lists) of rows
      (``beam_pipelines.transforms.core.batches``; ``TimedBatches``: timed batches); the
      function still sees one row.

  Example::

      result = rows | ApplyUserFunction('my_company.udfs:clean_row')
  """

  def __init__(self, spec, *, pipeline_name=None, batched=False, label=None):
    super().__init__(label)
    load_function(spec)  # fail at construction, naming the problem
    self._spec = spec
    self._pipeline_name = pipeline_name
    self._batched = check_batched(batched, 'ApplyUserFunction')

  def expand(self, rows):
    outputs = rows | 'ApplyUdf' >> beam.ParDo(batched_or_not(
        _ApplyFn(self._spec, pipeline_name_of(rows.pipeline, self._pipeline_name)),
        self._batched)).with_output_types(batch_hint(self._batched, RowDict)).with_outputs(
            DEAD_LETTER_TAG, main=ROWS_TAG)
    # The function may change the rows' shape: no schema is known for its output.
    return fallible_result(outputs)
