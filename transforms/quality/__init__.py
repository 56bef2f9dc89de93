"""Data quality: rules from config, per-window scores, dead letters or flags.

- ``config``: the typed rules (``QualityConfig``, ``QualityRule``);
- ``rules_file``: the rule file format and its validation (``load_quality_rules``);
- ``rules``: row-level rule kinds (not_null, range, regex, allowed_values, freshness);
- ``uniqueness``: the ``unique`` rule (stateful, per window);
- ``scores``: score definitions and the quality-table schema;
- ``transform``: ``CheckQuality``, the PTransform.
"""

from beam_pipelines.transforms.quality.config import QualityConfig, QualityRule, quality_output_schema
from beam_pipelines.transforms.quality.rules_file import load_quality_rules
from beam_pipelines.transforms.quality.scores import quality_table_schema
from beam_pipelines.transforms.quality.transform import CheckQuality, QualityResult

__all__ = ['CheckQuality', 'QualityConfig', 'QualityResult', 'QualityRule',
           'load_quality_rules', 'quality_output_schema', 'quality_table_schema']
