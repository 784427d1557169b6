"""The code location: every module under asr_assets/defs, plus the policy chosen at load time (the executor).

Adding a file under defs/ (assets, sensors, a `@dg.definitions def defs()`) registers it; nothing here lists them.
"""

from __future__ import annotations

import warnings

import dagster as dg

import asr_assets.defs
from asr_assets import settings


def executor() -> dg.ExecutorDefinition:
    """k8s: each step its own Kubernetes Job (sized by its tags); else one process per run.

    Locally in-process is fastest and lightest: TensorFlow and the model load once per run, not once per step
    process (see docs/dagster-ingest.md, "Executor and TensorFlow").
    """
    if settings.current().executor == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    return dg.in_process_executor


def build_defs() -> dg.Definitions:
    with warnings.catch_warnings():
        # load_defs is marked deprecated in favour of load_from_defs_folder, which needs a [tool.dg] project.
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = dg.components.load_defs(asr_assets.defs)
    return dg.Definitions.merge(loaded, dg.Definitions(executor=executor()))


defs = build_defs()
