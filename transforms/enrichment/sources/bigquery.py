"""BigQueryLookupSource: a lookup table read from a BigQuery table or query.

Reads with the google-cloud-bigquery client inside the loading step (``tabledata.list`` for a
table, a query job for a query), not with Beam's ``ReadFromBigQuery``: a bounded Beam read
cannot be re-run on every refresh of a streaming side input, it exports through a temporary
dataset (which, against the local emulator, once deleted every dataset when none was given),
and a lookup small enough to broadcast is small enough for one client read. With
``BIGQUERY_EMULATOR_HOST`` set the client goes to the emulator with anonymous credentials.
"""

from dataclasses import dataclass
from typing import Optional

from beam_pipelines.transforms.enrichment.sources.base import LookupSource, LookupSourceError


@dataclass(frozen=True)
class BigQueryLookupSource(LookupSource):
  """A whole BigQuery table (``table``) or a query's result (``query``), exactly one of them.

  Attributes:
    table: ``PROJECT.DATASET.TABLE``, ``PROJECT:DATASET.TABLE`` or ``DATASET.TABLE``.
    query: a GoogleSQL query; add ``ORDER BY`` when the lookup may hold duplicate keys,
      because row order decides which duplicate wins.
    project: the project that runs the query / owns a ``DATASET.TABLE`` (default: the
      client's default project, or the emulator's).
  Values come back in BigQuery's Python form (INT64 -> int, STRING -> str, NUMERIC ->
  Decimal converted to its string, TIMESTAMP -> RFC 3339 string, RANGE -> {start, end},
  INTERVAL -> its canonical text), JSON-serialisable.
  """
  table: Optional[str] = None
  query: Optional[str] = None
  project: Optional[str] = None

  def __post_init__(self):
    if bool(self.table) == bool(self.query):
      raise ValueError('table/query: give exactly one of a table or a query')
    if self.table:
      from beam_pipelines.transforms.core.table_spec import parse_table_spec
      parse_table_spec(self.table, 'table')

  def describe(self):
    return f'bq://{self.table}' if self.table else 'BigQuery query'

  def _client(self):
    from beam_pipelines.transforms.core.bigquery_client import bigquery_client
    return bigquery_client(self.project)

  def _table_ref(self):
    spec = self.table
    if ':' in spec:
      project, rest = spec.split(':', 1)
      return f'{project}.{rest}'
    if spec.count('.') == 1 and self.project:
      return f'{self.project}.{spec}'
    return spec

  def read(self):
    client = self._client()
    try:
      if self.table:
        rows = client.list_rows(self._table_ref())
      else:
        rows = client.query(self.query).result()
      for row in rows:
        yield {key: _plain(value) for key, value in row.items()}
    except LookupSourceError:
      raise
    except Exception as e:  # the client's errors name the table / query problem
      raise LookupSourceError(f'cannot read lookup {self.describe()}: '
                              f'{type(e).__name__}: {e}') from None
    finally:
      client.close()


def _plain(value):
  """BigQuery client values -> JSON-serialisable values (rows join into BigQuery rows)."""
  import datetime
  import decimal
  if isinstance(value, decimal.Decimal):
    return format(value.normalize(), 'f')  # '84.4', not '84.400000000' or '8.44E+1'
  if isinstance(value, datetime.datetime):
    if value.tzinfo is not None:
      value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
      return value.strftime('%Y-%m-%dT%H:%M:%S.%fZ')
    return value.strftime('%Y-%m-%dT%H:%M:%S.%f')
  if isinstance(value, (datetime.date, datetime.time)):
    return value.isoformat()
  if isinstance(value, bytes):
    import base64
    return base64.b64encode(value).decode('ascii')
  if isinstance(value, dict):
    return {k: _plain(v) for k, v in value.items()}
  if isinstance(value, list):
    return [_plain(v) for v in value]
  if type(value).__name__ == 'relativedelta':  # INTERVAL (dateutil): its canonical text
    return _interval_text(value)
  return value


def _interval_text(delta):
  from beam_pipelines.transforms.validate.bq_range_interval import interval_text
  micros = ((delta.hours * 60 + delta.minutes) * 60 + delta.seconds) * 1_000_000 + \
      delta.microseconds
  return interval_text(delta.years * 12 + delta.months, int(delta.days), micros)
