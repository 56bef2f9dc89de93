"""The commit step (stage rows, apply one script) and what the BigQuery emulator really does
with transactions, checked against bqemulator: a transaction whose statement fails leaves
nothing behind, concurrent transactions do not lose updates, a transient outage is ridden
out within the retry budget (a real TCP outage in front of the emulator), a bad script fails
at once, and staging tables and files are removed."""

import os
import sys
import threading
import time

import pytest
from google.api_core import exceptions

from beam_pipelines.transforms.validate import load_schema
from beam_pipelines.transforms.write.retry_budget import RetryBudgetExceeded
from beam_pipelines.transforms.write.staged_script import StagedScript

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tcp_outage import TcpOutageProxy  # noqa: E402

pytestmark = pytest.mark.emulator
SCHEMA = load_schema([{'name': 'k', 'type': 'STRING'}, {'name': 'v', 'type': 'INT64'}])
SCRIPT = """BEGIN TRANSACTION;
INSERT INTO `{target}` (k, v)
SELECT s.k, s.v FROM {staging} AS s
WHERE NOT EXISTS (SELECT 1 FROM `{target}` AS t WHERE t.k = s.k);
COMMIT TRANSACTION;
SELECT COUNT(*) AS n FROM `{target}`;"""


def rows(client, sql):
  return [dict(r.items()) for r in client.query(sql).result()]


@pytest.fixture
def target(bq_client, bq_dataset):
  bq_client.query(f'CREATE TABLE {bq_dataset}.t (k STRING, v INT64)').result()
  bq_client.query(f"INSERT INTO {bq_dataset}.t VALUES ('a', 1)").result()
  return f'{bq_client.project}.{bq_dataset}.t'


def test_a_failing_transaction_leaves_nothing_behind(bq_client, target):
  with pytest.raises(exceptions.BadRequest, match='boom'):
    bq_client.query(f"""BEGIN TRANSACTION;
      DELETE FROM `{target}` WHERE TRUE;
      INSERT INTO `{target}` VALUES ('b', 2);
      SELECT ERROR('boom');
      COMMIT TRANSACTION;""").result()
  assert rows(bq_client, f'SELECT k, v FROM `{target}`') == [{'k': 'a', 'v': 1}]


def test_without_a_transaction_statements_before_the_error_stay(bq_client, target):
  # As in BigQuery: a script is not atomic by itself, hence BEGIN ... COMMIT in merges.
  with pytest.raises(exceptions.BadRequest):
    bq_client.query(f"INSERT INTO `{target}` VALUES ('b', 2); SELECT ERROR('boom');").result()
  assert sorted(r['k'] for r in rows(bq_client, f'SELECT k FROM `{target}`')) == ['a', 'b']


def test_concurrent_transactions_lose_no_update(bigquery_emulator, target):
  def bump():
    client = bigquery_emulator.client()
    client.query(f"""BEGIN TRANSACTION;
      UPDATE `{target}` SET v = v + 1 WHERE k = 'a';
      COMMIT TRANSACTION;""").result()

  threads = [threading.Thread(target=bump) for _ in range(6)]
  for t in threads:
    t.start()
  for t in threads:
    t.join(timeout=60)
  client = bigquery_emulator.client()
  assert rows(client, f"SELECT v FROM `{target}` WHERE k = 'a'") == [{'v': 7}]


def test_stages_runs_and_cleans_up(tmp_path, bq_client, bq_dataset, target):
  staged = StagedScript(str(tmp_path / 'staging'))
  staging = f'{target}_staging_1'
  data = [{'k': 'a', 'v': 9}, {'k': 'b', 'v': 2}, {'k': 'c', 'v': 3}]
  result = staged.run(bq_client, data, SCHEMA, staging, SCRIPT.replace('{target}', target))
  assert result == [{'n': 3}]
  assert rows(bq_client, f'SELECT k, v FROM `{target}` ORDER BY k') == [
      {'k': 'a', 'v': 1}, {'k': 'b', 'v': 2}, {'k': 'c', 'v': 3}]
  tables = [t.table_id for t in bq_client.list_tables(bq_dataset)]
  assert tables == ['t']  # the staging table is gone
  assert os.listdir(tmp_path / 'staging') == []  # and its file
  # Idempotent script, run again on the same rows: same table.
  assert staged.run(bq_client, data, SCHEMA, staging, SCRIPT.replace('{target}', target)) == [
      {'n': 3}]


def test_a_bad_script_fails_at_once(tmp_path, bq_client, target):
  staged = StagedScript(str(tmp_path), retry_budget_seconds=0)  # 0: would retry forever
  started = time.monotonic()
  with pytest.raises(exceptions.BadRequest):
    staged.run(bq_client, [{'k': 'x', 'v': 1}], SCHEMA, f'{target}_s',
               'SELECT no_such_column FROM {staging};')
  assert time.monotonic() - started < 20


def _client_through(proxy, project):
  from google.api_core.client_options import ClientOptions
  from google.auth.credentials import AnonymousCredentials
  from google.cloud import bigquery
  return bigquery.Client(project=project, credentials=AnonymousCredentials(),
                         client_options=ClientOptions(
                             api_endpoint=f'http://127.0.0.1:{proxy.port}'))


@pytest.mark.slow
def test_an_outage_is_ridden_out_within_the_budget_and_fails_past_it(
    tmp_path, bigquery_emulator, bq_client, target):
  proxy = TcpOutageProxy(bigquery_emulator.port).up()
  try:
    client = _client_through(proxy, bq_client.project)
    proxy.down()
    threading.Timer(4.0, proxy.up).start()
    staged = StagedScript(str(tmp_path), retry_budget_seconds=60)
    result = staged.run(client, [{'k': 'z', 'v': 26}], SCHEMA, f'{target}_s1',
                        SCRIPT.replace('{target}', target))
    assert result == [{'n': 2}]
    proxy.down()
    started = time.monotonic()
    with pytest.raises(RetryBudgetExceeded, match='budget of 3 s'):
      StagedScript(str(tmp_path), retry_budget_seconds=3).run(
          client, [{'k': 'y', 'v': 25}], SCHEMA, f'{target}_s2',
          SCRIPT.replace('{target}', target))
    assert time.monotonic() - started < 30
  finally:
    proxy.down()
  assert rows(bq_client, f"SELECT k FROM `{target}` WHERE k = 'y'") == []
