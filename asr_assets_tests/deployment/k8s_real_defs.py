"""The project's real ingest_job as the cluster builds it (ASR_EXECUTOR=k8s), as a `reconstructable` target.

`asr_assets.definitions.defs` picks its executor once, when first imported; a test process has usually imported
it already with the local executor. This builds the definitions afresh, so the run worker (the test) and every
step process (the fake's pods, which get ASR_EXECUTOR=k8s from the deployment's env) load the same job.
"""

import dagster as dg


def get_ingest_job() -> dg.JobDefinition:
    from asr_assets.definitions import build_defs

    return build_defs().resolve_job_def("ingest_job")
