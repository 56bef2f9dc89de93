"""Right to be forgotten: delete one or more subjects' rows from BigQuery tables.

    python -m beam_pipelines.forget --subject_field user.id --subject u0228 \\
        --tables my-project:analytics.events my-project:analytics.sessions            # dry run
    python -m beam_pipelines.forget ... --execute                                     # delete

A dry run (the default) prints, per table, how many rows match and deletes nothing. With
``--execute`` each table gets one ``DELETE ... WHERE CAST(<field> AS STRING) IN
UNNEST(@subjects)`` (a parameterised query: ids are never spliced into SQL), then a count of
what is left. Subject ids are never printed.

When the tables hold *pseudonymised* subject ids (the subject field is ``hmac`` or
``tokenize`` in the masking policy), pass the policy, the input schema and the key source(s):
the command computes the pseudonyms and matches those. Give ``--masking_key_source`` once
per key that was used (after a rotation, old rows carry the old key's pseudonyms).

Dead-letter tables (``--dead_letter_tables``) are searched by payload: a dead letter whose
``payloadString`` contains the subject id (or its pseudonym) as a JSON string (``"u0228"``)
matches. Payloads masked in ``drop`` mode (a hash) or whose subject value was redacted cannot
be matched.

Limits: real BigQuery refuses DML on rows still in the streaming buffer (rows streamed in the
last ~30 minutes): run it again later. Exit codes: 0 done, 1 a table failed (named) or rows
are left, 2 bad arguments.
"""

import argparse
import json
import re
import sys

_FIELD_PATH = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$')


class ForgetError(Exception):
  """A failure naming the table it happened on."""


def parse_args(argv):
  from beam_pipelines.runtime.prog import prog_name
  parser = argparse.ArgumentParser(prog=prog_name('beam_pipelines.forget'),
                                   description=__doc__.splitlines()[0])
  parser.add_argument('--subject_field', required=True,
                      help='Dotted column path holding the subject id (user.id).')
  parser.add_argument('--subject', action='append', default=[],
                      help='A subject id (repeat for several).')
  parser.add_argument('--subjects_file', default=None,
                      help='A file of subject ids, one a line (# comments allowed).')
  parser.add_argument('--tables', nargs='+', default=[],
                      help='Tables: PROJECT:DATASET.TABLE or DATASET.TABLE (with --project).')
  parser.add_argument('--dead_letter_tables', nargs='+', default=[],
                      help='Dead-letter tables, matched on payloadString (see above).')
  parser.add_argument('--project', default=None, help='Default project for the tables.')
  parser.add_argument('--execute', action='store_true',
                      help='Delete the rows. Without it: a dry run printing counts.')
  parser.add_argument('--masking_policy', default=None,
                      help='The masking policy the tables were written with (to match '
                           'pseudonymised subject ids).')
  parser.add_argument('--schema', default=None, help='The input schema of that policy.')
  parser.add_argument('--masking_key_source', action='append', default=[],
                      help='env:VAR | file:PATH | secret:projects/.../versions/V (repeat for '
                           'each key used).')
  return parser.parse_args(argv)


def _subjects(args):
  subjects = [s.strip() for s in args.subject if s and s.strip()]
  if args.subjects_file:
    from beam_pipelines.transforms.masking.erasure import load_erase_list
    subjects.extend(sorted(load_erase_list(args.subjects_file)))
  if not subjects:
    raise ValueError('give at least one --subject or a --subjects_file')
  return sorted(set(subjects))


def match_values(args, subjects):
  """The values to look for: the raw ids, or their pseudonyms under each key given."""
  if not args.masking_policy:
    if args.masking_key_source or args.schema:
      raise ValueError('--masking_key_source and --schema need --masking_policy')
    return subjects
  if not args.schema or not args.masking_key_source:
    raise ValueError('--masking_policy needs --schema and --masking_key_source')
  from beam_pipelines.transforms.masking import MaskingKey
  from beam_pipelines.transforms.masking.binding import bind_policy
  from beam_pipelines.transforms.masking.methods import hmac as hmac_method
  from beam_pipelines.transforms.masking.methods import tokenize as tokenize_method
  bound = bind_policy(args.masking_policy, args.schema)
  node = bound.node(args.subject_field)
  if node is None:
    raise ValueError(f'--subject_field {args.subject_field} is not in the schema')
  if node.method == 'keep':
    return subjects
  if node.method not in ('hmac', 'tokenize'):
    raise ValueError(f'--subject_field {args.subject_field} is masked with {node.method}: its '
                     'stored values cannot be matched to a subject')
  values = []
  for source in args.masking_key_source:
    key = MaskingKey.load(source)
    for subject in subjects:
      if node.method == 'hmac':
        values.append(hmac_method.pseudonym(key.material, key.key_id, subject,
                                            node.params['context'], node.params['length']))
      else:
        values.append(tokenize_method.token(key.derived('tokenize'), key.key_id, subject,
                                            node.params['prefix'], node.params['length']))
  return sorted(set(values))


def _client(project):
  from beam_pipelines.transforms.core.bigquery_client import bigquery_client
  return bigquery_client(project)


def _table_ref(spec, default_project):
  from beam_pipelines.transforms.core.table_spec import parse_table_spec
  project, dataset, table = parse_table_spec(spec, 'table')
  project = project or default_project
  if not project:
    raise ValueError(f'table {spec!r} has no project; pass --project')
  return f'{project}.{dataset}.{table}'


def forget(client, tables, subject_field, values, execute, out=None, dead_letter=False):
  """Counts (and with ``execute`` deletes) matching rows per table. Returns
  {table: (matched, deleted or None, left or None)}. Raises ForgetError naming the table.

  ``dead_letter``: the tables are dead-letter tables, matched on ``payloadString``."""
  from google.cloud import bigquery
  out = out or sys.stdout
  if dead_letter:
    values = [json.dumps(v, ensure_ascii=False) for v in values]
    where = ('EXISTS(SELECT 1 FROM UNNEST(@subjects) AS s '
             'WHERE STRPOS(payloadString, s) > 0)')
  else:
    if not _FIELD_PATH.match(subject_field):
      raise ValueError(f'--subject_field {subject_field!r} is not a dotted column path')
    where = f'CAST({subject_field} AS STRING) IN UNNEST(@subjects)'
  config = bigquery.QueryJobConfig(query_parameters=[
      bigquery.ArrayQueryParameter('subjects', 'STRING', list(values))])
  results = {}
  for ref in tables:
    try:
      count_sql = f'SELECT COUNT(*) AS n FROM `{ref}` WHERE {where}'
      matched = list(client.query(count_sql, job_config=config).result())[0]['n']
      deleted = left = None
      if execute and matched:
        job = client.query(f'DELETE FROM `{ref}` WHERE {where}', job_config=config)
        job.result()
        deleted = job.num_dml_affected_rows
        left = list(client.query(count_sql, job_config=config).result())[0]['n']
      elif execute:
        deleted, left = 0, 0
    except Exception as e:  # pylint: disable=broad-except
      first = str(e).splitlines()[0] if str(e) else type(e).__name__
      raise ForgetError(f'{ref}: {type(e).__name__}: {first}') from None
    results[ref] = (matched, deleted, left)
    if execute:
      status = f'{deleted} rows deleted, {left} matching rows left'
    else:
      status = f'{matched} rows would be deleted'
    print(f'  {ref:<50} {matched:>8} matching   {status}', file=out)
  return results


def main(argv=None):
  args = parse_args(sys.argv[1:] if argv is None else argv)
  try:
    subjects = _subjects(args)
    values = match_values(args, subjects)
    from beam_pipelines.transforms.core.bigquery_client import emulator_host, emulator_project
    project = args.project or (emulator_project() if emulator_host() else None)
    tables = [_table_ref(t, project) for t in args.tables]
    dead_tables = [_table_ref(t, project) for t in args.dead_letter_tables]
    if not tables and not dead_tables:
      raise ValueError('give --tables and/or --dead_letter_tables')
  except ValueError as e:
    print(f'forget: error: {e}', file=sys.stderr)
    return 2
  mode = 'EXECUTE' if args.execute else 'dry run'
  print(f'forget ({mode}): {len(subjects)} subject(s) in {args.subject_field}'
        f'{" (pseudonymised)" if args.masking_policy else ""}, {len(tables)} table(s)'
        f'{f", {len(dead_tables)} dead-letter table(s)" if dead_tables else ""}')
  try:
    client = _client(project)
    results = forget(client, tables, args.subject_field, values, args.execute)
    if dead_tables:
      results.update(forget(client, dead_tables, args.subject_field, values, args.execute,
                            dead_letter=True))
  except (ForgetError, ValueError) as e:
    print(f'forget: error: {e}', file=sys.stderr)
    return 1
  total = sum(m for m, _, _ in results.values())
  if args.execute:
    left = sum(n or 0 for _, _, n in results.values())
    print(f'Deleted {sum(d or 0 for _, d, _ in results.values())} rows; {left} matching rows '
          'left' + ('' if not left else ' (streaming buffer? run again later)'))
    return 0 if not left else 1
  print(f'Dry run: nothing deleted. Re-run with --execute to delete {total} rows.')
  return 0


if __name__ == '__main__':
  sys.exit(main())
