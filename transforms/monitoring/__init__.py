"""Monitoring: SLA rules checked per quality window, alerts, and their delivery.

- ``alerts``: the alert record and the alerts table's schema, ``AlertLinks``;
- ``detectors``: anomaly rules on Beam's detectors (``apache_beam.ml.anomaly``);
- ``evaluate``: ``SlaEvaluator``, a window's metrics in, alerts out (batch and streaming);
- ``transform``: ``EvaluateSlas``, the PTransform;
- ``deliver``: ``DeliverAlerts`` to a Pub/Sub topic and/or an HTTP webhook, retried, counted,
  never failing the pipeline.

The SLA rule syntax lives with the quality rules (``beam_pipelines.transforms.quality.sla``).
"""

from beam_pipelines.transforms.monitoring.alerts import AlertLinks, alert_table_schema
from beam_pipelines.transforms.monitoring.deliver import AlertDeliveryConfig, DeliverAlerts
from beam_pipelines.transforms.monitoring.transform import EvaluateSlas

__all__ = ['AlertDeliveryConfig', 'AlertLinks', 'DeliverAlerts', 'EvaluateSlas',
           'alert_table_schema']
