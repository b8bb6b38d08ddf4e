"""CloudWatch metrics as embedded metric format (EMF) log lines, through Powertools.

EMF needs no API call: the metrics ride on the function's log output and
CloudWatch extracts them. Handlers flush with ``@METRICS.log_metrics``.
"""

from __future__ import annotations

import os
import warnings
from typing import Literal

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

# The namespace is the product's name; POWERTOOLS_METRICS_NAMESPACE (set by the
# template to the same) may rename it. Named here so that a module imported
# before the environment is set still publishes.
METRICS = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Sketchbridge"))

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
        self, name: str, value: float, unit: Literal["Count", "Seconds", "Bytes", "None"] = "Count"
    ) -> None:
        METRICS.add_metric(name=name, unit=_UNITS[unit], value=value)
