"""The optional steps of the chain, one function each: ``(input, its config, ...)`` in, labelled
steps added, a ``FallibleResult`` (or the masked rows) out.

``beam_pipelines.chain.build_chain`` composes them; a step whose config is off adds nothing
and returns its input unchanged with ``dead_letters=None``. Step labels are stable (Dataflow
``--update`` matches steps by name).
"""

import json
import logging
from dataclasses import replace
from typing import NamedTuple, Optional, Union

import apache_beam as beam

from beam_pipelines.transforms.core.batches import batch_of_one, is_timed, timed_batch_of_one
from beam_pipelines.transforms.core.dead_letter import FallibleResult
from beam_pipelines.transforms.enrichment import EnrichWithSideInput
from beam_pipelines.transforms.masking import LoadEraseList, MaskDeadLetters, MaskPII
from beam_pipelines.transforms.masking.erasure import ReloadingEraseList
from beam_pipelines.transforms.monitoring import DeliverAlerts, EvaluateSlas, alert_table_schema
from beam_pipelines.transforms.quality import CheckQuality, quality_table_schema
from beam_pipelines.transforms.udf import ApplyUserFunction
from beam_pipelines.transforms.validate.schema_drift import HandleSchemaDrift, drift_policy
from beam_pipelines.transforms.write.bigquery import WriteRowsToBigQuery

_LOG = logging.getLogger(__name__)


class MaskedRows(NamedTuple):
  """What ``mask_rows`` returns: masked rows, mask-stage dead letters, and the erase list
  (a side-input PCollection or a ReloadingEraseList) for ``mask_dead_letters`` to share."""
  rows: beam.PCollection
  dead_letters: Optional[beam.PCollection]
  erase_ids: Union[beam.PCollection, ReloadingEraseList, None]


def _reloading(masking):
  return ReloadingEraseList(masking.erase_list, masking.erase_list_refresh_seconds,
                            masking.project)


def mask_rows(rows, masking, pipeline_name=None, batched=False):
  """Step 'MaskPII', and the erase list (step 'LoadEraseList'; with
  ``--erase_list_refresh_seconds`` > 0 each worker re-reads it instead: no step)."""
  if masking is None:
    return MaskedRows(rows, None, None)
  erase = None
  if masking.erase_list and masking.erase_list_refresh_seconds > 0:
    erase = _reloading(masking)
  elif masking.erase_list:
    erase = rows.pipeline | 'LoadEraseList' >> LoadEraseList(masking.erase_list,
                                                             masking.project)
  result = rows | 'MaskPII' >> MaskPII(
      masking.policy.schema, masking.policy, masking.key,
      subject_field=masking.subject_field, erase_ids=erase, pipeline_name=pipeline_name,
      batched=batched)
  return MaskedRows(result.rows, result.dead_letters, erase)


def mask_dead_letters(dead_letters, masking, masked_rows=None, csv=None, pipeline_name=None,
                      row_paths=None):
  """Step 'MaskDeadLetters' over the flattened dead letters of every stage; shares the erase
  list of ``mask_rows``' result, and masks CSV payloads cell by cell when the source's
  ``CsvFormat`` is given, rows inside envelopes at ``row_paths`` as rows. Identity when
  ``masking`` is None."""
  if masking is None:
    return dead_letters
  erase = masked_rows.erase_ids if masked_rows is not None else None
  if erase is None and masking.erase_list and masking.erase_list_refresh_seconds > 0:
    erase = _reloading(masking)
  elif erase is None and masking.erase_list:
    erase = dead_letters.pipeline | 'LoadEraseListForDeadLetters' >> LoadEraseList(
        masking.erase_list, masking.project)
  return dead_letters | 'MaskDeadLetters' >> MaskDeadLetters(
      masking.policy.schema, masking.policy, masking.key, mode=masking.dead_letter_payload,
      subject_field=masking.subject_field, erase_ids=erase, csv=csv,
      pipeline_name=pipeline_name, row_paths=row_paths)


def drift_aware_parse_config(parse, quality):
  """The ParseConfig to validate with: its policy reports new fields as ``schema_drift``
  when ``--schema_drift`` is dead_letter or evolve."""
  if quality.drift.mode == 'ignore':
    return parse
  return replace(parse, policy=drift_policy(parse.policy, quality.drift.mode))


def handle_drift(parsed, quality, schema, parse, pipeline_name=None, batched=False):
  """Step 'SchemaDrift' (dead_letter / evolve modes) on ParseAndValidate's result.

  Returns all rows to continue with (validated + evolved) and all dead letters of
  ParseAndValidate and the drift step. Identity without drift handling."""
  if quality.drift.mode == 'ignore':
    return FallibleResult(rows=parsed.rows, dead_letters=parsed.dead_letters)
  drift = parsed.dead_letters | 'SchemaDrift' >> HandleSchemaDrift(
      schema, quality.drift, parse, pipeline_name=pipeline_name, with_source_ids=True)
  if quality.drift.mode != 'evolve':
    return FallibleResult(rows=parsed.rows, dead_letters=drift.dead_letters)
  evolved = drift.rows
  if batched:  # the evolved rows join the batches of validated rows: batches of one
    evolved = evolved | 'EvolvedRowsAsBatches' >> beam.Map(
        timed_batch_of_one if is_timed(batched) else batch_of_one)
  rows = (parsed.rows, evolved) | 'WithEvolvedRows' >> beam.Flatten()
  return FallibleResult(rows=rows, dead_letters=drift.dead_letters)


def enrich(rows, enrichment, batched=False):
  """Step 'Enrich' when configured."""
  if enrichment is None:
    return FallibleResult(rows=rows, dead_letters=None)
  return rows | 'Enrich' >> EnrichWithSideInput(enrichment, batched=batched)


def enrich_takes_batches(enrichment):
  """Whether the Enrich step can take batches: the broadcast join of a static lookup (the
  keyed join and the refreshed lookups take rows one by one)."""
  return enrichment is None or (enrichment.mode != 'keyed'
                                and enrichment.refresh_seconds is None)


def apply_udf(rows, spec, pipeline_name=None, batched=False):
  """Step 'ApplyUserFunction' when ``--udf`` is given."""
  if spec is None:
    return FallibleResult(rows=rows, dead_letters=None)
  return rows | 'ApplyUserFunction' >> ApplyUserFunction(spec, pipeline_name=pipeline_name,
                                                          batched=batched)


class CheckedRows(NamedTuple):
  """What ``check_quality`` returns: rows, quality dead letters, per-window scores (None
  without rules)."""
  rows: beam.PCollection
  dead_letters: Optional[beam.PCollection]
  scores: Optional[beam.PCollection]


def check_quality(rows, quality, pipeline_name=None, commit=None, scores_window=None):
  """Steps 'CheckQuality' and 'WriteQualityScores' when rules are configured (scores
  staged for ``commit`` when one is given, after ``scores_window`` (scores -> scores in the
  windows the commit groups by) when given)."""
  if quality.rules is None:
    return CheckedRows(rows=rows, dead_letters=None, scores=None)
  checked = rows | 'CheckQuality' >> CheckQuality(quality.rules, pipeline_name=pipeline_name)
  if quality.scores_sink is not None:
    scores = checked.scores if scores_window is None else scores_window(checked.scores)
    failed = scores | 'WriteQualityScores' >> WriteRowsToBigQuery(
        quality_table_schema(), quality.scores_sink, pipeline_name=pipeline_name,
        metric_name='quality_scores', commit=commit)
    # Score rows are not records: a rejected one is logged and counted
    # (sink/quality_scores_failed), never mixed into the dead letters.
    _ = failed | 'LogRejectedScores' >> beam.Map(_log_rejected_score)
  else:
    _ = (checked.scores
         | 'QualityScoresToJson' >> beam.Map(lambda r: json.dumps(r, sort_keys=True))
         | 'WriteQualityScores' >> beam.io.WriteToText(quality.scores_path,
                                                       file_name_suffix='.jsonl'))
  return CheckedRows(rows=checked.rows, dead_letters=checked.dead_letters,
                     scores=checked.scores)


def _log_rejected_score(record):
  _LOG.error('quality score row rejected by BigQuery: %s', record.get('errorMessage'))
  return record


def monitor(scores, dead_letters, quality, monitoring, pipeline_name=None):
  """Steps 'EvaluateSlas', 'WriteAlerts' and 'DeliverAlerts' when the rules file has SLA
  rules: each window's quality row and dead letters checked, a breach written to the alerts
  table (or JSONL files) and sent to the topic / webhook. Returns the alerts (or None)."""
  if scores is None or not quality.rules.slas:
    return None
  alerts = (scores, dead_letters) | 'EvaluateSlas' >> EvaluateSlas(
      quality.rules, links=monitoring.links, pipeline_name=pipeline_name)
  if monitoring.alert_sink is not None:
    failed = alerts | 'WriteAlerts' >> WriteRowsToBigQuery(
        alert_table_schema(), monitoring.alert_sink, pipeline_name=pipeline_name,
        metric_name='alerts')
    # Alerts are not records either: a rejected one is logged and counted.
    _ = failed | 'LogRejectedAlerts' >> beam.Map(_log_rejected_alert)
  else:
    _ = (alerts
         | 'AlertsToJson' >> beam.Map(lambda r: json.dumps(r, sort_keys=True))
         | 'WriteAlerts' >> beam.io.WriteToText(monitoring.alert_path,
                                                file_name_suffix='.jsonl'))
  if monitoring.delivery is not None:
    _ = alerts | 'DeliverAlerts' >> DeliverAlerts(monitoring.delivery)
  return alerts


def _log_rejected_alert(record):
  _LOG.error('alert row rejected by BigQuery: %s', record.get('errorMessage'))
  return record
