"""Batched execution: the chain's row-by-row steps handle lists of records, one per call.

A Beam runner pays a fixed cost per element and per step (wrapping it in a windowed value,
invoking the DoFn, routing its outputs to the next step's receivers); on the FnApiRunner that
is several microseconds, as much as the suite's own work on a simple row. ``BatchedFn`` wraps
one of the suite's element-wise DoFns so that the elements between steps are *batches* (lists
of records): the runner's cost is paid once per batch, and the wrapped DoFn's ``process``
still runs once per record, so every output, dead letter, source id and counter is the one
the element-wise step gives (tests compare both paths record by record).

- ``BatchedFn(fn, batched_input=True)`` takes a batch, calls ``fn.process`` on each record
  and emits the main outputs as batches of at most ``batch_size``; tagged outputs (the dead
  letters) pass through one by one. With ``batched_input=False`` it takes single elements
  (a file range, a Pub/Sub message) and batches what ``fn`` makes of them: a reader that
  emits thousands of records per file range emits them as batches.
- Side inputs (positional or keyword) reach ``fn`` unchanged; so do the element's timestamp
  and window when ``fn.process`` declares ``DoFn.TimestampParam`` / ``DoFn.WindowParam``.
- A main output that carries its own timestamp (``TimestampedValue``) becomes a batch of one
  with that timestamp, so event time is never merged across records.
- ``Unbatch()`` turns batches back into elements, for steps that take records one by one
  (Beam's own sinks, windowing by element timestamp).

Why not Beam's batched DoFns (``process_batch``)? They would mean a second implementation of
every step (on batches) next to the element-wise one users compose, batch converters for
every output type, and batches that the runner forms only between batched DoFns of one
fused stage. Explicit batches are ordinary elements: the wrapped DoFns stay exactly as they
are, and the batches go from the file reader to the sinks. (Not measured against
``process_batch``.)
"""

import inspect
from typing import Any, List

import apache_beam as beam
from apache_beam.transforms.window import TimestampedValue

DEFAULT_BATCH_SIZE = 512

# The type hint of a batch of rows.
RowBatch = beam.typehints.List[beam.typehints.Dict[str, Any]]


def _declared_params(fn):
  """{'timestamp'/'window': parameter name} for the DoFn params ``fn.process`` declares."""
  wanted = {}
  for name, param in inspect.signature(fn.process).parameters.items():
    if param.default is beam.DoFn.TimestampParam:
      wanted['timestamp'] = name
    elif param.default is beam.DoFn.WindowParam:
      wanted['window'] = name
  return wanted


class BatchedFn(beam.DoFn):
  """Runs an element-wise DoFn over batches of records; see the module docstring."""

  def __init__(self, fn, batched_input=True, batch_size=DEFAULT_BATCH_SIZE):
    if not isinstance(fn, beam.DoFn):
      raise ValueError(f'fn must be a DoFn, got {type(fn).__name__}')
    if not isinstance(batch_size, int) or batch_size < 1:
      raise ValueError(f'batch_size must be a positive integer, got {batch_size!r}')
    self._fn = fn
    self._batched_input = bool(batched_input)
    self._batch_size = batch_size
    self._params = _declared_params(fn)

  def display_data(self):
    return {'fn': type(self._fn).__name__, 'batch_size': self._batch_size}

  def setup(self):
    self._fn.setup()

  def start_bundle(self):
    self._fn.start_bundle()

  def process(self, element, timestamp=beam.DoFn.TimestampParam,
              window=beam.DoFn.WindowParam, *args, **kwargs):
    if self._params:
      values = {'timestamp': timestamp, 'window': window}
      kwargs = dict(kwargs, **{name: values[param] for param, name in self._params.items()})
    records = element if self._batched_input else (element,)
    process, size = self._fn.process, self._batch_size
    batch: List[Any] = []
    for record in records:
      for output in process(record, *args, **kwargs) or ():
        if isinstance(output, beam.pvalue.TaggedOutput):
          yield output
        elif isinstance(output, TimestampedValue):
          yield TimestampedValue([output.value], output.timestamp)
        else:
          batch.append(output)
          if len(batch) >= size:
            yield batch
            batch = []
    if batch:
      yield batch

  def finish_bundle(self):
    for output in self._fn.finish_bundle() or ():
      yield output

  def teardown(self):
    self._fn.teardown()


def batched_or_not(fn, batched, batched_input=True):
  """``fn`` itself, or ``BatchedFn(fn, ...)`` when ``batched`` (True: batches of
  ``DEFAULT_BATCH_SIZE``; a positive int: batches of at most that many records)."""
  if not batched:
    return fn
  size = DEFAULT_BATCH_SIZE if batched is True else batched
  return BatchedFn(fn, batched_input, size)


class Unbatch(beam.PTransform):
  """Batches of records -> the records, one element each."""

  def expand(self, batches):
    return batches | 'Unbatch' >> beam.FlatMap(_records)


def _records(batch):
  return batch


def batch_type(element_type):
  """The type hint of a batch of ``element_type``."""
  return beam.typehints.List[element_type]


def check_batched(batched, where):
  """``batched`` as given to a transform: False, True or a batch size (a positive int)."""
  if isinstance(batched, bool) or (isinstance(batched, int) and batched > 0):
    return batched
  raise ValueError(f'{where}: batched must be True, False or a batch size (a positive '
                   f'integer), got {batched!r}')


__all__ = ['BatchedFn', 'DEFAULT_BATCH_SIZE', 'RowBatch', 'Unbatch', 'batch_type',
           'batched_or_not', 'check_batched']
