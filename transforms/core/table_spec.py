"""WriteRowsToBigQuery: Beam's BigQuery sink with its failures turned into dead letters."""

import re

# PROJECT:DATASET.TABLE, PROJECT.DATASET.TABLE or DATASET.TABLE. Project ids may carry a
# domain prefix (example.com:my-project).
_TABLE_SPEC = re.compile(
    r'^(?:(?P<project>(?:[a-z][a-z0-9.\-]*[a-z0-9]:)?[a-z][a-z0-9\-]{4,28}[a-z0-9])[:.])?'
    r'(?P<dataset>[A-Za-z0-9_]{1,1024})\.(?P<table>[\w\-$ ]{1,1024})$')


def parse_table_spec(spec, argument='table'):
  """Splits a table spec into (project or None, dataset, table); ValueError if malformed."""
  match = _TABLE_SPEC.match(spec or '')
  if not match:
    raise ValueError(f'{spec!r} is not a valid {argument} spec '
                     '(PROJECT:DATASET.TABLE, PROJECT.DATASET.TABLE or DATASET.TABLE)')
  return match.group('project'), match.group('dataset'), match.group('table')
