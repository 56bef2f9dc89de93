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

Timed batches (``TimedBatches(size)``, for streaming): a batch element carries one timestamp,
but Pub/Sub messages each have their own (publish or event time), and windowing, the late-data
gate and the quality windows read it. A timed batch is a list of ``(micros, record)`` pairs:
every record keeps its own timestamp, the batch element is stamped with the earliest of them
(so it never holds the watermark later than its records would), the wrapped DoFn sees each
record's own timestamp as ``DoFn.TimestampParam``, its dead letters leave with that timestamp,
and ``Unbatch(timed=True)`` gives every record its timestamp back. ``BatchBundles`` forms
timed batches from single elements (the messages of one Pub/Sub pull arrive in one bundle).

Why not Beam's batched DoFns (``process_batch``)? They would mean a second implementation of
every step (on batches) next to the element-wise one users compose, batch converters for
every output type, and batches that the runner forms only between batched DoFns of one
fused stage. Explicit batches are ordinary elements: the wrapped DoFns stay exactly as they
are, and the batches go from the file reader to the sinks. (Not measured against
``process_batch``.)
"""

import inspect
from dataclasses import dataclass
from typing import Any, List

import apache_beam as beam
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp
from apache_beam.utils.windowed_value import WindowedValue

DEFAULT_BATCH_SIZE = 512

# The type hint of a batch of rows, and of a timed batch of rows.
RowBatch = beam.typehints.List[beam.typehints.Dict[str, Any]]
TimedRowBatch = beam.typehints.List[beam.typehints.Tuple[int, beam.typehints.Dict[str, Any]]]


@dataclass(frozen=True)
class TimedBatches:
  """The ``batched`` setting for timed batches of at most ``size`` records (see the module
  docstring): what streaming sources need, where every record has its own timestamp."""
  size: int = DEFAULT_BATCH_SIZE

  def __post_init__(self):
    if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
      raise ValueError(f'TimedBatches: size must be a positive integer, got {self.size!r}')


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

  def __init__(self, fn, batched_input=True, batch_size=DEFAULT_BATCH_SIZE, timed=False):
    if not isinstance(fn, beam.DoFn):
      raise ValueError(f'fn must be a DoFn, got {type(fn).__name__}')
    if not isinstance(batch_size, int) or batch_size < 1:
      raise ValueError(f'batch_size must be a positive integer, got {batch_size!r}')
    self._fn = fn
    self._batched_input = bool(batched_input)
    self._batch_size = batch_size
    self._timed = bool(timed)
    self._params = _declared_params(fn)

  def display_data(self):
    return {'fn': type(self._fn).__name__, 'batch_size': self._batch_size,
            'timed': self._timed}

  def setup(self):
    self._fn.setup()

  def start_bundle(self):
    self._fn.start_bundle()

  def process(self, element, timestamp=beam.DoFn.TimestampParam,
              window=beam.DoFn.WindowParam, *args, **kwargs):
    if self._timed:
      yield from self._process_timed(element, timestamp, window, args, kwargs)
      return
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

  def _process_timed(self, element, timestamp, window, args, kwargs):
    """``process`` for timed batches: each record with its own timestamp."""
    records = element if self._batched_input else ((timestamp.micros, element),)
    timestamp_name = self._params.get('timestamp')
    if 'window' in self._params:
      kwargs = dict(kwargs, **{self._params['window']: window})
    process, size = self._fn.process, self._batch_size
    batch: List[Any] = []
    for micros, record in records:
      if timestamp_name is not None:
        kwargs = dict(kwargs, **{timestamp_name: Timestamp(micros=micros)})
      for output in process(record, *args, **kwargs) or ():
        if isinstance(output, beam.pvalue.TaggedOutput):
          value = output.value
          if not isinstance(value, (TimestampedValue, WindowedValue)):
            value = TimestampedValue(value, Timestamp(micros=micros))
          yield beam.pvalue.TaggedOutput(output.tag, value)
          continue
        if isinstance(output, TimestampedValue):
          batch.append((output.timestamp.micros, output.value))
        else:
          batch.append((micros, output))
        if len(batch) >= size:
          yield timed_batch(batch)
          batch = []
    if batch:
      yield timed_batch(batch)

  def finish_bundle(self):
    for output in self._fn.finish_bundle() or ():
      yield output

  def teardown(self):
    self._fn.teardown()


def timed_batch(batch):
  """A timed batch as an output: stamped with its earliest record's timestamp."""
  return TimestampedValue(batch, Timestamp(micros=min(micros for micros, _ in batch)))


def batched_or_not(fn, batched, batched_input=True):
  """``fn`` itself, or ``BatchedFn(fn, ...)`` when ``batched`` (True: batches of
  ``DEFAULT_BATCH_SIZE``; a positive int: batches of at most that many records; a
  ``TimedBatches``: timed batches)."""
  if not batched:
    return fn
  if isinstance(batched, TimedBatches):
    return BatchedFn(fn, batched_input, batched.size, timed=True)
  size = DEFAULT_BATCH_SIZE if batched is True else batched
  return BatchedFn(fn, batched_input, size)


def batch_hint(batched, element_hint):
  """The type hint of the elements a step with this ``batched`` setting outputs."""
  if not batched:
    return element_hint
  if isinstance(batched, TimedBatches):
    return beam.typehints.List[beam.typehints.Tuple[int, element_hint]]
  return beam.typehints.List[element_hint]


def batch_of_one(record):
  """A record as a batch of one (to join batches, e.g. rows a later branch produced)."""
  return [record]


def timed_batch_of_one(record, timestamp=beam.DoFn.TimestampParam):
  """A record as a timed batch of one, at its own timestamp (use in ``beam.Map``)."""
  return [(timestamp.micros, record)]


def is_timed(batched):
  return isinstance(batched, TimedBatches)


class Unbatch(beam.PTransform):
  """Batches of records -> the records, one element each; ``timed=True``: timed batches,
  every record with its own timestamp again."""

  def __init__(self, timed=False, label=None):
    super().__init__(label)
    self._timed = bool(timed)

  def expand(self, batches):
    return batches | 'Unbatch' >> beam.FlatMap(_timed_records if self._timed else _records)


def _records(batch):
  return batch


def _timed_records(batch):
  return [TimestampedValue(record, Timestamp(micros=micros)) for micros, record in batch]


class BatchBundles(beam.DoFn):
  """Single elements -> timed batches of at most ``batch_size``, formed within a bundle (one
  per window), so nothing waits for a later bundle; on the DirectRunner the messages of one
  Pub/Sub pull are one bundle. Each batch is stamped with its earliest record's timestamp."""

  def __init__(self, batch_size=DEFAULT_BATCH_SIZE):
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
      raise ValueError(f'batch_size must be a positive integer, got {batch_size!r}')
    self._batch_size = batch_size
    self._buffers = {}

  def start_bundle(self):
    self._buffers = {}

  def process(self, element, timestamp=beam.DoFn.TimestampParam,
              window=beam.DoFn.WindowParam):
    buffer = self._buffers.setdefault(window, [])
    buffer.append((timestamp.micros, element))
    if len(buffer) >= self._batch_size:
      del self._buffers[window]
      yield _windowed_batch(buffer, window)

  def finish_bundle(self):
    buffers, self._buffers = self._buffers, {}
    for window, buffer in buffers.items():
      yield _windowed_batch(buffer, window)


def _windowed_batch(batch, window):
  return WindowedValue(batch, Timestamp(micros=min(micros for micros, _ in batch)), (window,))


def batch_type(element_type):
  """The type hint of a batch of ``element_type``."""
  return beam.typehints.List[element_type]


def check_batched(batched, where):
  """``batched`` as given to a transform: False, True, a batch size (a positive int) or a
  ``TimedBatches``."""
  if (isinstance(batched, (bool, TimedBatches))
      or (isinstance(batched, int) and batched > 0)):
    return batched
  raise ValueError(f'{where}: batched must be True, False, a batch size (a positive '
                   f'integer) or TimedBatches(size), got {batched!r}')


__all__ = ['BatchBundles', 'BatchedFn', 'DEFAULT_BATCH_SIZE', 'RowBatch', 'TimedBatches',
           'TimedRowBatch', 'Unbatch', 'batch_hint', 'batch_of_one', 'batch_type',
           'batched_or_not', 'check_batched', 'is_timed', 'timed_batch', 'timed_batch_of_one']
