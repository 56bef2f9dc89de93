"""The worked example of docs/cdc.md runs as written: examples/cdc/changes.jsonl through
cdc_to_bigquery gives exactly the replica and history tables the page shows (they are read
from the page), the counts it states, and a rerun that changes nothing."""

import os
import re

import pytest

from beam_pipelines import cdc_to_bigquery

pytestmark = pytest.mark.emulator
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def doc_table(name):
  with open(os.path.join(REPO, 'docs', 'cdc.md'), encoding='utf-8') as f:
    text = f.read()
  match = re.search(r'<!-- cdc-example:' + name + r' -->\n((?:\|.*\n)+)', text)
  assert match, f'docs/cdc.md has no cdc-example:{name} table'
  lines = match.group(1).strip().splitlines()
  header = [c.strip() for c in lines[0].strip('|').split('|')]
  return header, [[c.strip() for c in line.strip('|').split('|')] for line in lines[2:]]


def cell(value):
  if value is None:
    return 'NULL'
  if isinstance(value, bool):
    return str(value).lower()
  if hasattr(value, 'strftime'):
    assert value.date().isoformat() == '2026-01-01'  # the page says: 2026-01-01 UTC
    return value.strftime('%H:%M:%S')
  return str(value)


def test_the_worked_example_gives_the_tables_of_the_page(monkeypatch, bigquery_emulator,
                                                          bq_client, bq_dataset, tmp_path):
  monkeypatch.chdir(REPO)
  argv = ['--input', 'examples/cdc/changes.jsonl',
          '--schema', 'examples/cdc/customers_schema.json', '--primary_key', 'id',
          '--output_table', f'{bq_dataset}.customers',
          '--history_table', f'{bq_dataset}.customers_history',
          '--temp_location', str(tmp_path)]
  _, summary = cdc_to_bigquery.run(argv, print_summary=False)
  for name, table, order in (('replica', 'customers', 'id'),
                             ('history', 'customers_history', 'id, _cdc_order')):
    header, expected = doc_table(name)
    got = [[cell(r[c]) for c in header] for r in bq_client.query(
        f'SELECT {", ".join(header)} FROM {bq_dataset}.{table} ORDER BY {order}').result()]
    assert got == expected, name
  cdc = summary['cdc']
  assert (cdc['changes_read'], cdc['changes_applied'], cdc['tombstones_skipped'],
          cdc['duplicates'], cdc['dead_letters']) == (9, 6, 1, 1, 1)
  assert summary['dead_letters_by_type'] == {'cdc_truncate': 1}
  _, again = cdc_to_bigquery.run(argv, print_summary=False)
  assert (again['cdc']['changes_applied'], again['cdc']['duplicates']) == (0, 7)
