"""CloudWatch metrics as embedded metric format (EMF) log lines, through Powertools.

EMF needs no API call: the metrics ride on the function's log output and
CloudWatch extracts them. Handlers flush with ``@METRICS.log_metrics``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from sketchbridge.domain.metric_catalog import NAMESPACE, Metric

# The namespace is the product's name; POWERTOOLS_METRICS_NAMESPACE (set by the
# template to the same) may rename it. Named here so that a module imported
# before the environment is set still publishes.
METRICS = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE))

# An invocation with nothing to count is normal here (a duplicate delivery, a
# rejected request): Powertools' warning about it would only be noise.
warnings.filterwarnings("ignore", message="No application metrics to publish")

_UNITS: dict[str, MetricUnit] = {
    "Count": MetricUnit.Count,
    "Seconds": MetricUnit.Seconds,
    "Bytes": MetricUnit.Bytes,
    "None": MetricUnit.NoUnit,
}


class EmfMetrics:
    def add(
        self, metric: Metric, value: float, dimensions: Mapping[str, str] | None = None
    ) -> None:
        given = dict(dimensions or {})
        if set(given) != set(metric.dimensions):
            # A series with other dimensions is another metric: the dashboard would miss it.
            raise ValueError(
                f"{metric.name} takes dimensions {metric.dimensions}, not {tuple(given)}"
            )
        if not given:
            METRICS.add_metric(name=metric.name, unit=_UNITS[metric.unit], value=value)
            return
        # Powertools' shared Metrics object applies one dimension set to everything it
        # flushes; a per-provider series is its own EMF document.
        with single_metric(
            name=metric.name,
            unit=_UNITS[metric.unit],
            value=value,
            namespace=METRICS.namespace,
            default_dimensions=given,
        ):
            pass
