"""The lookup-source syntax of ``--enrichment_source``: text -> a LookupSource (``parse_source``).

The flags become an ``EnrichmentConfig`` in ``beam_pipelines.options.enrichment``
(``enrichment_config``) and the ``Enrich`` step is added by ``beam_pipelines.chain_steps.enrich``.

Source syntax (``--enrichment_source``):
  * a file path or ``gs://`` URI: ``.jsonl``/``.ndjson``/``.json`` or ``.csv`` (optionally
    ``.gz``/``.bz2``); force a format with a prefix: ``csv:path``, ``jsonl:path``;
  * ``bq://PROJECT.DATASET.TABLE`` or ``bq://DATASET.TABLE`` (``--project``'s project);
  * ``bq-query:SELECT ...`` — a GoogleSQL query (quote it for the shell).
"""

from beam_pipelines.transforms.enrichment.sources.bigquery import BigQueryLookupSource
from beam_pipelines.transforms.enrichment.sources.file import FileLookupSource


def parse_source(text, project=None):
  """``--enrichment_source`` text -> a LookupSource (ValueError on bad syntax)."""
  text = (text or '').strip()
  if text.startswith('bq-query:'):
    query = text[len('bq-query:'):].strip()
    if not query:
      raise ValueError('bq-query: needs a query after the colon')
    return BigQueryLookupSource(query=query, project=project)
  if text.startswith('bq://'):
    table = text[len('bq://'):]
    if table.count('.') == 1 and project:
      table = f'{project}.{table}'
    return BigQueryLookupSource(table=table, project=project)
  for fmt in ('csv', 'jsonl'):
    if text.startswith(fmt + ':') and not text.startswith(fmt + '://'):
      return FileLookupSource(text[len(fmt) + 1:], format=fmt)
  return FileLookupSource(text)
