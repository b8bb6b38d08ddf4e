"""What an admin checks first (``GET /admin/health``): each provider and each queue.

Per deployed provider: its health with the reason, whether an admin switched it off, its
circuit breaker, error rate and latency over the health window, and its retirement date.
Per job queue: the messages waiting, being worked on and delayed (SQS's approximations).
Reads only: the breakers (one BatchGetItem), the overrides (one), the latencies (one Query
per provider) and one GetQueueAttributes per queue.
"""

from __future__ import annotations

from sketchbridge.domain.models import (
    AdminHealthResponse,
    BreakerResponse,
    ProviderHealthResponse,
    QueueBacklogResponse,
)
from sketchbridge.services.ports import Dependencies
from sketchbridge.services.provider_manager import ProviderManager


def admin_health(deps: Dependencies) -> AdminHealthResponse:
    checked_at = deps.clock()
    manager = ProviderManager(deps)
    statuses = manager.statuses(now=checked_at.timestamp())
    profiles = manager.profiles()
    breakers = deps.breakers.load_many(deps.providers.names)
    providers = []
    for name, status in statuses.items():
        breaker = breakers[name]
        providers.append(
            ProviderHealthResponse(
                name=name,
                enabled=profiles[name].enabled,
                status=status.health,
                reason=status.reason,
                breaker=BreakerResponse(
                    status=breaker.status,
                    consecutive_failures=breaker.consecutive_failures,
                    opened_at=breaker.opened_at,
                    open_until=breaker.open_until,
                ),
                error_rate=round(status.error_rate, 4),
                samples=status.samples,
                p50_s=status.p50_s,
                p90_s=status.p90_s,
                retires_on=status.retires_on,
                retirement=status.retirement,
            )
        )
    queues = [
        QueueBacklogResponse(
            name=backlog.name,
            visible=backlog.visible,
            in_flight=backlog.in_flight,
            delayed=backlog.delayed,
            error=backlog.error,
        )
        for backlog in deps.queue_backlogs.backlogs()
    ]
    return AdminHealthResponse(checked_at=checked_at, providers=providers, queues=queues)
