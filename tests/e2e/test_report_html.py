"""The run report (--report_path) rendered by headless Chromium (Debian's package; `make test`
installs it when missing): the charts are there, every number on the page equals the run
summary, the page loads nothing from anywhere, and the dead-letter examples are the masked
dead letters, never the raw input."""

import json
import os
import re
import shutil
import subprocess

import pytest

from beam_pipelines import files_to_bigquery

pytestmark = pytest.mark.emulator
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = os.path.join(REPO, 'samples')


def chromium():
  path = shutil.which('chromium') or shutil.which('chromium-browser')
  if path is None:
    pytest.fail("headless Chromium is missing: `make test` installs Debian's package "
                '(apt-get install -y chromium); install it and run again')
  return path


def render(path, tmp_path):
  """(DOM after rendering, screenshot PNG path) of a local page, by headless Chromium."""
  base = [chromium(), '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars',
          f'--user-data-dir={tmp_path / "chromium-profile"}', '--window-size=1200,3000']
  url = f'file://{path}'
  dom = subprocess.run(base + ['--dump-dom', url], capture_output=True, text=True,
                       timeout=120, check=True).stdout
  shot = tmp_path / 'report.png'
  subprocess.run(base + [f'--screenshot={shot}', url], capture_output=True, timeout=120,
                 check=True)
  return dom, shot


def metrics_on_page(dom):
  return dict(re.findall(r'<span data-metric="([^"]+)">([^<]*)</span>', dom))


def lookup(summary, key):
  if key.startswith('removed.'):
    return summary['invariant']['removed'][key.split('.', 1)[1]]
  if key.startswith('dead_letters_by_type.'):
    return summary['dead_letters_by_type'][key.split('.', 1)[1]]
  if key.startswith('windows.'):
    _, index, column = key.split('.', 2)
    return summary['windows'][int(index)][column]
  value = summary
  for part in key.split('.'):
    value = value[part]
  return value


def test_report_renders_in_chromium_with_charts_and_the_summary_numbers(
    tmp_path, bigquery_emulator, bq_dataset, monkeypatch):
  with open(os.path.join(SAMPLES, 'events.jsonl'), 'rb') as f:
    (tmp_path / 'events.jsonl').write_bytes(b''.join(f.readlines()[:400]))
  monkeypatch.setenv('REPORT_TEST_MASKING_KEY', 'report-test-masking-key-0123')
  report = tmp_path / 'out' / 'report.html'
  files_to_bigquery.run([
      '--input', str(tmp_path / 'events.jsonl'),
      '--schema', os.path.join(SAMPLES, 'events_schema.json'),
      '--output_table', f'{bigquery_emulator.project}:{bq_dataset}.events',
      '--masking_policy', os.path.join(SAMPLES, 'masking_policy.yaml'),
      '--masking_key_source', 'env:REPORT_TEST_MASKING_KEY',
      '--quality_rules', os.path.join(SAMPLES, 'quality_rules.yaml'),
      '--summary_path', str(tmp_path / 'summary.json'), '--report_path', str(report)],
      print_summary=False)
  summary = json.loads((tmp_path / 'summary.json').read_text())
  page = report.read_text(encoding='utf-8')
  # Self-contained: no script, no stylesheet, image or font from a URL.
  assert not re.search(r'<script|<link|\bsrc=|url\((?!#)|@import|\bhref="(?!#)', page)
  dom, shot = render(report, tmp_path)
  for chart in ('chart-volume', 'chart-quality', 'chart-freshness', 'chart-dead-letters'):
    figure = re.search(rf'<figure id="{chart}" class="chart"><svg.*?</svg>', dom, re.DOTALL)
    assert figure, chart
    assert figure.group(0).count('<path') > 5, chart  # drawn marks, not an empty frame
  shown = metrics_on_page(dom)
  assert len(shown) > 50
  wrong = {k: v for k, v in shown.items() if v != ('' if lookup(summary, k) is None
                                                   else str(lookup(summary, k)))}
  assert wrong == {}
  assert shown['records_read'] == '400' and summary['records_read'] == 400
  assert int(shown['rows_written']) + int(shown['dead_letters']) + int(
      shown.get('removed.erased', 0)) == 400
  assert len(summary['windows']) == 1 and shown['windows.0.rows'] == str(
      summary['windows'][0]['rows'])
  # Examples are the masked dead letters: no raw e-mail address of the input is on the page.
  raw_emails = set(re.findall(rb'u\d{4}\.person\d+@example\.com',
                              (tmp_path / 'events.jsonl').read_bytes()))
  assert raw_emails and not any(e.decode() in dom for e in raw_emails)
  assert 'masked by the masking policy' in dom and '[REDACTED]' in dom
  # The screenshot is a picture, not a blank page.
  from PIL import Image
  with Image.open(shot) as image:
    colors = image.convert('RGB').getcolors(maxcolors=1 << 20)
  assert image.size == (1200, 3000) and len(colors) > 50
