"""`asr-assets evaluate MODEL [--promote]`: the model assets (defs/models.py) run from a terminal, on the local
instance, so the runs and their metadata show in the UI like any other.

It registers MODEL (a catalog name or one of ASR_CANDIDATE_MODELS), evaluates it per language and, with
--promote, promotes it when the quality gate passes. It prints the WER per language and the gate's verdict, and
exits 1 when the gate refuses the model.
"""

from __future__ import annotations

import argparse
import re
import sys

from asr_assets.platform import embedded_pg


def _md_rows(markdown: str) -> list[list[str]]:
    """The body rows of a markdown table, cells stripped."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def evaluate(args: argparse.Namespace) -> int:
    import dagster as dg

    from asr_assets.definitions import defs
    from asr_assets.defs.models import CHECK_NAME, asr_models, registered_models
    from asr_assets.local.commands import _prepare

    if args.model not in registered_models():
        print(
            f"asr-assets evaluate: {args.model!r} is not registered (registered: {', '.join(registered_models())}); "
            "add it to ASR_CANDIDATE_MODELS as name=folder",
            file=sys.stderr,
        )
        return 2
    started_pg = _prepare()
    try:
        languages = [lang for lang in re.split(r"[,\s]+", args.languages or "") if lang]
        config = {"include_shared_eval": not args.no_shared_eval, "languages": languages}
        if args.max_wer_increase is not None:
            config["max_wer_increase"] = args.max_wer_increase
        run_config: dict = {
            "ops": {"asr_model_eval": {"config": config}},
            # the run's event log is in the UI; the terminal gets the summary below (-v: Dagster's INFO too)
            "loggers": {"console": {"config": {"log_level": "INFO" if args.verbose else "WARNING"}}},
        }
        selection = [dg.AssetKey("asr_model"), dg.AssetKey("asr_model_eval")]
        if args.promote:
            selection.append(dg.AssetKey("asr_model_promotion"))
            promotion = {"languages": languages}
            if args.max_wer_increase is not None:
                promotion["max_wer_increase"] = args.max_wer_increase
            run_config["ops"]["asr_model_promotion"] = {"config": promotion}
        with dg.DagsterInstance.get() as instance:
            instance.add_dynamic_partitions(asr_models.name, [args.model])
            result = defs.resolve_job_def("promote_model_job").execute_in_process(
                partition_key=args.model,
                instance=instance,
                run_config=run_config,
                asset_selection=selection,
                raise_on_error=False,
            )
        evaluations = result.asset_materializations_for_node("asr_model_eval")
        if not evaluations:
            print(
                f"asr-assets evaluate: the evaluation of {args.model} failed (run {result.run_id})",
                file=sys.stderr,
            )
            return 1
        meta = evaluations[0].metadata
        print(f"{meta['model'].value}: WER per language (run {result.run_id})")
        for lang, dataset, files, words, wer, speed in _md_rows(meta["wer_by_language"].value):
            print(f"  {lang:3} {dataset:34} {files:>4} files {words:>5} words  WER {wer:>8}  {speed:>6}")
        check = next(c for c in result.get_asset_check_evaluations() if c.check_name == CHECK_NAME)
        print(f"quality gate ({CHECK_NAME}): {'passed' if check.passed else 'REFUSED'}")
        for lang, dataset, wer, baseline, promoted, verdict in _md_rows(check.metadata["comparison"].value):
            print(
                f"  {lang:3} {dataset:34} {wer:>8} vs {baseline or '-':>8} ({promoted or 'none promoted'}): {verdict}"
            )
        if args.promote:
            promoted = result.asset_materializations_for_node("asr_model_promotion")
            if promoted:
                print(f"promoted for {promoted[0].metadata['languages'].value}")
            else:
                print("not promoted", file=sys.stderr)
                return 1
        return 0 if check.passed else 1
    finally:
        if started_pg:
            embedded_pg.stop_embedded_postgres()
