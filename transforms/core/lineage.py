"""Beam lineage metrics for our own sources and sinks.

Beam 2.77 reports lineage (``Lineage.sources()`` / ``Lineage.sinks()``, Dataplex FQNs) from
its file-based IO (ReadFromText, WriteToText...) and BigQuery reads and FILE_LOADS writes,
but not from ``fileio.MatchFiles`` (our file sources) nor from STREAMING_INSERTS. These small
steps report them the same way, so ``Lineage.query(result.metrics(), ...)`` lists them.
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
