"""Reading: every source becomes RawMessages (``ReadEvents``).

- ``events``: ``ReadEvents`` and the registry of sources (config type -> reader).
- ``files``: files matched by a pattern (``FileSourceConfig``), read by format.
- ``file_splits``: large JSONL files cut into line-aligned ranges for several workers.
- ``pubsub``: a Pub/Sub subscription or topic (``PubSubSourceConfig``), with de-duplication.
- ``formats``: one module per format, holding its file reader, its payload decoder and its
  payload rules together (JSONL, CSV, Avro, Parquet).
"""

from beam_pipelines.transforms.read.events import READERS, ReadEvents
from beam_pipelines.transforms.read.files import FILE_FORMATS, FileSourceConfig, ReadFiles
from beam_pipelines.transforms.read.formats.csv_format import CsvFormat
from beam_pipelines.transforms.read.pubsub import DEDUPE_MODES, PubSubSourceConfig, ReadPubSub

__all__ = ['CsvFormat', 'DEDUPE_MODES', 'FILE_FORMATS', 'FileSourceConfig', 'PubSubSourceConfig',
           'READERS', 'ReadEvents', 'ReadFiles', 'ReadPubSub']
