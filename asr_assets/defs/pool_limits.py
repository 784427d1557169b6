"""Pool limits from the environment: at most N transcription steps at once, across every run of the instance.

Dagster 1.13's dagster.yaml (the chart's `concurrency.pools`) holds one `default_limit` for all pools; a pool's own
limit lives only in the instance's storage, set by `dagster instance concurrency set <pool> <n>` or the UI. So
each deployment states its N as an environment variable of the code location (deployment/environments/*.yaml) and
`pool_limits_sensor` writes it into the storage, only when the stored limit differs, logging the change. A limit
changed by hand in the UI is set back at the next tick: the environment is the one source of truth.

Pools not listed here (the `dbt` pool) keep the instance's default limit (1 in the chart values).
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from asr_assets import settings
from asr_assets.settings import ConfigurationError

TRANSCRIPTION_POOL = "transcription"  # the transcripts asset's pool (defs/transcripts.py)
# pool -> the variable that sets its limit
POOL_LIMIT_VARIABLES = {TRANSCRIPTION_POOL: "ASR_TRANSCRIPTION_SLOTS"}
CHECK_INTERVAL_S = 60  # a changed variable means a new code server pod; a minute later the limit follows


def wanted_pool_limits(env: Mapping[str, str]) -> dict[str, int]:
    """pool -> limit for every pool whose variable is set; a value that is not a whole number of at least 1 is
    refused with the variable's name (dagster itself refuses more than 1000)."""
    limits = {}
    for pool, variable in POOL_LIMIT_VARIABLES.items():
        value = (env.get(variable) or "").strip()
        if not value:
            continue
        if not value.isdigit() or int(value) < 1:
            raise ConfigurationError(
                f"{variable}={value!r}: set it to how many {pool} steps may run at once, a whole number of at "
                "least 1"
            )
        limits[pool] = int(value)
    return limits


def configured_pool_limits() -> dict[str, int]:
    """`wanted_pool_limits` of the variables as settings.py reads them from the environment now."""
    return wanted_pool_limits(
        {POOL_LIMIT_VARIABLES[TRANSCRIPTION_POOL]: settings.current().transcription_slots}
    )


def apply_pool_limits(instance: dg.DagsterInstance, wanted: Mapping[str, int]) -> list[str]:
    """Sets each pool's limit in the instance's storage where it differs (or is only the instance default, which a
    later change of `default_limit` would move); returns one line per change."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        raise ConfigurationError(
            "this Dagster instance's storage keeps no pool limits (run `dagster instance migrate`, or use "
            f"PostgreSQL storage); unset {', '.join(POOL_LIMIT_VARIABLES[p] for p in wanted)} to run without them"
        )
    changes = []
    for pool, limit in wanted.items():
        info = storage.get_concurrency_info(pool)
        if info.limit == limit and not info.using_default_limit:
            continue
        storage.set_concurrency_slots(pool, limit)
        was = (
            "unset"
            if info.limit is None
            else f"{info.limit}{' (default)' if info.using_default_limit else ''}"
        )
        changes.append(f"pool {pool}: limit {was} -> {limit} ({POOL_LIMIT_VARIABLES[pool]})")
    return changes


@dg.sensor(minimum_interval_seconds=CHECK_INTERVAL_S, default_status=dg.DefaultSensorStatus.RUNNING)
def pool_limits_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Keeps each pool's limit as the environment sets it (ASR_TRANSCRIPTION_SLOTS: transcription steps at once
    across all runs); requests no runs."""
    wanted = configured_pool_limits()
    if not wanted:
        return dg.SkipReason(
            f"{', '.join(POOL_LIMIT_VARIABLES.values())} not set: pool limits left as they are"
        )
    changes = apply_pool_limits(context.instance, wanted)
    for change in changes:
        context.log.info(change)
    summary = ", ".join(f"{pool} {limit}" for pool, limit in wanted.items())
    return dg.SkipReason(f"{'; '.join(changes)}" if changes else f"pool limits already as set: {summary}")
