"""Beam lineage metrics for our own sources and sinks.

Beam 2.77 reports lineage (``Lineage.sources()`` / ``Lineage.sinks()``, Dataplex FQNs) from
its file-based IO (ReadFromText, WriteToText...) and BigQuery reads and FILE_LOADS writes,
but not from ``fileio.MatchFiles`` (our file sources), STREAMING_INSERTS, nor the
DirectRunner's Pub/Sub read. These small helpers report them the same way, so the run's
lineage metrics list them.
"""

import apache_beam as beam
from apache_beam.metrics.metric import Lineage


def report_file_source(metadata):
  """Map fn for a ``FileMetadata`` (from MatchFiles): reports the file, passes it on."""
  from apache_beam.io.filesystems import FileSystems
  try:
    FileSystems.report_source_lineage(metadata.path)
  except Exception:  # pylint: disable=broad-except
    pass  # lineage is informational: never fail a read for it
  return metadata


def report_pubsub_source(path):
  """Reports ``projects/P/subscriptions/S`` or ``projects/P/topics/T`` as a lineage source
  (``pubsub:subscription:P.S``, as Beam's own Pub/Sub read names it)."""
  parts = (path or '').split('/')
  if len(parts) == 4 and parts[0] == 'projects' and parts[2] in ('subscriptions', 'topics'):
    subtype = 'subscription' if parts[2] == 'subscriptions' else 'topic'
    Lineage.sources().add('pubsub', parts[1], parts[3], subtype=subtype)


def bigquery_segments(table_spec):
  """``[project, dataset, table]`` (project omitted when the spec has none)."""
  from beam_pipelines.transforms.core.table_spec import parse_table_spec
  project, dataset, table = parse_table_spec(table_spec)
  return [s for s in (project, dataset, table) if s]


class ReportBigQuerySinkFn(beam.DoFn):
  """Passes elements through; reports ``bigquery:project.dataset.table`` as a sink once per
  bundle that writes something."""

  def __init__(self, table_spec):
    self._segments = bigquery_segments(table_spec)

  def start_bundle(self):
    self._reported = False

  def process(self, element):
    if not self._reported:
      Lineage.sinks().add('bigquery', *self._segments)
      self._reported = True
    yield element
