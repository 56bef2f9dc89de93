"""ReadEvents: every source becomes a PCollection of RawMessage.

``ReadEvents(config)`` picks the reader registered for the config's type. Each reader
returns a ``FallibleResult`` (RawMessages, and dead letters for input it cannot read), so
the rest of the chain is the same for every source, batch or streaming.
"""

import apache_beam as beam

from beam_pipelines.transforms.core.batches import TimedBatches, check_batched
from beam_pipelines.transforms.read.files import FILE_FORMATS, FileSourceConfig, ReadFiles
from beam_pipelines.transforms.read.pubsub import PubSubSourceConfig, ReadPubSub

# config type -> PTransform class taking that config. New sources register here.
READERS: dict[type, type[beam.PTransform]] = {FileSourceConfig: ReadFiles,
                                              PubSubSourceConfig: ReadPubSub}

__all__ = ['FILE_FORMATS', 'FileSourceConfig', 'READERS', 'ReadEvents']


class ReadEvents(beam.PTransform):
  """Reads any registered source into RawMessages.

  Outputs a ``FallibleResult``: ``rows`` are RawMessages (see ``beam_pipelines.transforms.core.messages``),
  ``dead_letters`` are records for input that could not be read (stage ``read``).

  Example::

      events = p | ReadEvents(FileSourceConfig('data/*.jsonl'))
      parsed = events.rows | ParseAndValidate('schema.json')
  """

  def __init__(self, config, *, batched=False, label=None):
    """Args:
      config: a ``FileSourceConfig`` or a ``PubSubSourceConfig``.
      batched: ``rows`` are batches (lists) of RawMessages, one element per batch
        (``beam_pipelines.transforms.core.batches``); dead letters stay one by one. Files:
        True, a batch size or ``TimedBatches(size)``; Pub/Sub: ``TimedBatches(size)`` only
        (every message has its own timestamp).
    """
    super().__init__(label)
    reader = READERS.get(type(config))
    if reader is None:
      raise ValueError(f'config must be one of {[c.__name__ for c in READERS]}, '
                       f'got {type(config).__name__}')
    if batched and reader is ReadPubSub and not isinstance(batched, TimedBatches):
      raise ValueError('batched Pub/Sub reads are timed (every message has its own '
                       f'timestamp): batched must be TimedBatches(size), got {batched!r}')
    self._config = config
    self._reader = reader
    self._batched = check_batched(batched, 'ReadEvents')

  def expand(self, pbegin):
    # The reader's steps are nested under this transform's label, so step names stay stable.
    if self._batched:
      return pbegin | 'Read' >> self._reader(self._config, batched=self._batched)
    return pbegin | 'Read' >> self._reader(self._config)
