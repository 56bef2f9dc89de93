"""Lookup-table sources for ``EnrichWithSideInput``: one source kind per module.

A source is a small, picklable, frozen dataclass with one method, ``read()``, that yields the
lookup table's records as dicts, in a stable order (the order decides which record wins when
keys are duplicated, see ``beam_pipelines.transforms.enrichment``). Sources do no I/O when constructed; they
read when a pipeline step calls ``read()`` on a worker, once per load (once in batch, once per
refresh in streaming).

- ``FileLookupSource``: JSONL or CSV, local or ``gs://`` (anything Beam's FileSystems opens).
- ``BigQueryLookupSource``: a whole table, or the result of a query.
"""

from beam_pipelines.transforms.enrichment.sources.base import LookupSource, LookupSourceError
from beam_pipelines.transforms.enrichment.sources.bigquery import BigQueryLookupSource
from beam_pipelines.transforms.enrichment.sources.file import LOOKUP_FILE_FORMATS, FileLookupSource

__all__ = ['BigQueryLookupSource', 'FileLookupSource', 'LOOKUP_FILE_FORMATS', 'LookupSource',
           'LookupSourceError']
