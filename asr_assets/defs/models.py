"""Models as assets: each registered checkpoint (`asr_model`), its word error rate per language (`asr_model_eval`),
and the promotion that makes a version the one production batches use for a language (`asr_model_promotion`),
behind a quality gate.

The partitions of `asr_models` are the registered models: the catalog's (`tiny.en`, `base`) and those named in
ASR_CANDIDATE_MODELS (`name=folder,...`), added by `model_registry_sensor`. Materialising `promote_model_job` for a
model registers the checkpoint (name, format, languages, size, version = the sha256 of its weights), transcribes
the evaluation set the repo ships (asr_assets/samples/eval, a few minutes per language; and ../shared/eval's
telephone sets where they are present) in every language the model speaks there, and records the WER per
language in asr_raw.model_evaluations. The blocking check `wer_within_margin_of_promoted` then refuses the
candidate when, for any language evaluated, its WER on a set is worse than the promoted version's on the same set
by more than `max_wer_increase`; only a candidate that passes reaches `asr_model_promotion`, which records it in
asr_raw.model_promotions (and checks the rule again, so the promotion alone cannot skip the gate).

Until a language has a promoted version, the configured models serve it (ASR_MODEL_PATH, ASR_MULTILINGUAL_MODEL;
platform/languages.py). After a promotion, new batches use the promoted version; re-transcribing old batches with it is
a backfill of `transcripts` (and everything downstream) over their partitions; the marts show which model and
version made each call (fct_calls.model_name, model_version; dim_model_versions).
"""

import json
import time
from pathlib import Path

import dagster as dg

from asr_assets import settings
from asr_assets.defs.jobs import ENGINE_LANE
from asr_assets.defs.partitions import OWNERS
from asr_assets.defs.resources import PostgresResource, WhisperModelResource
from asr_assets.platform.files import header_length
from asr_assets.platform.sql import read_sql
from asr_assets.samples import EVAL_DIR

asr_models = dg.DynamicPartitionsDefinition(name="asr_models")
SAMPLES_DATASET = "samples"
# ../shared/eval's telephone-band sets per language (8 kHz prompts like the bundled calls), where present
SHARED_SETS = {
    "en": "en/asterisk-en-us-8k",
    "fr": "multilang/asterisk-fr-ca-8k",
    "es": "multilang/asterisk-es-mx-8k",
    "it": "multilang/asterisk-it-it-8k",
}
CHECK_NAME = "wer_within_margin_of_promoted"
FILES_PER_BATCH = 16


def registered_models() -> dict[str, str]:
    """Model name -> what the loader reads (a catalog name or a folder): the catalog, then ASR_CANDIDATE_MODELS."""
    from asr_assets.asr.checkpoints.catalog import CATALOG

    return {**{name: name for name in CATALOG}, **settings.current().candidate_models}


def model_location(name: str) -> str:
    models = registered_models()
    if name not in models:
        raise dg.Failure(
            f"model {name!r} is not registered (registered: {', '.join(models)}); add it to ASR_CANDIDATE_MODELS "
            "as name=folder"
        )
    return models[name]


def evaluation_sets(languages: set[str], include_shared: bool) -> list[tuple[str, str, Path]]:
    """(language, dataset name, folder) of every set to score, the shipped ones first."""
    sets = [
        (lang, SAMPLES_DATASET, EVAL_DIR / lang) for lang in sorted(languages) if (EVAL_DIR / lang).is_dir()
    ]
    shared = settings.current().shared_eval_dir
    if include_shared:
        for lang in sorted(languages):
            folder = shared / SHARED_SETS.get(lang, "-")
            if lang in SHARED_SETS and folder.is_dir():
                sets.append((lang, f"shared/{SHARED_SETS[lang]}", folder))
    return sets


def _model_asset(**kwargs):
    """`dg.asset` for an asset of one registered model: partitioned by asr_models, in the models group."""
    return dg.asset(partitions_def=asr_models, group_name="models", owners=OWNERS, **kwargs)


def speaks(transcriber) -> set[str]:
    return (
        set(transcriber.checkpoint_tokenizer.language_tokens)
        if transcriber.checkpoint.is_multilingual
        else {"en"}
    )


@_model_asset(
    kinds={"python"},
    description="A registered Whisper checkpoint: name, format, languages, size and version (the sha256 of its "
    "weights), with its LiteRT programs built; recorded in asr_raw.models.",
)
def asr_model(
    context: dg.AssetExecutionContext, whisper: WhisperModelResource, postgres: PostgresResource
) -> dg.MaterializeResult:
    from asr_assets.asr.checkpoints import locate_checkpoint
    from asr_assets.asr.checkpoints.catalog import CATALOG

    name = context.partition_key
    location = model_location(name)
    root, fmt, files, version = locate_checkpoint(location)
    transcriber = whisper.transcriber(location)  # builds the programs the pipeline runs, once per version
    languages = sorted(speaks(transcriber))
    size = sum(f.stat().st_size for f in files)
    source = CATALOG[name].source if name in CATALOG else str(root)
    with postgres.connect() as conn, conn.cursor() as cur:
        cur.execute(
            read_sql("upsert_model"),
            {
                "model_version": version, "model_name": name, "location": str(root), "format": fmt,
                "multilingual": transcriber.checkpoint.is_multilingual, "languages": languages,
                "size_bytes": size, "source": source,
            },
        )  # fmt: skip
    label = f"whisper {name} ({fmt}) {version[:12]}"
    return dg.MaterializeResult(
        metadata={
            "model": label,
            "model_version": version,
            "format": fmt,
            "languages": ", ".join(languages) if len(languages) <= 5 else f"{len(languages)} (multilingual)",
            "multilingual": transcriber.checkpoint.is_multilingual,
            "size_mb": round(size / 1e6, 1),
            "source": source,
            "location": dg.MetadataValue.path(str(root)),
        },
        data_version=dg.DataVersion(version),
    )


class ModelEvalConfig(dg.Config):
    # also score on ../shared/eval's telephone sets when they are present (minutes per language more)
    include_shared_eval: bool = True
    languages: list[str] = []  # empty: every language the model speaks that an evaluation set has
    max_wer_increase: float = 0.01  # the gate: worse than the promoted version by more than this is refused


def _transcribe_set(transcriber, whisper: WhisperModelResource, language: str, folder: Path):
    """(score per evaluation.score, audio seconds, transcription seconds) of one set."""
    from asr_assets.asr.evaluation import normalize, score, select_items

    items = select_items(folder, None)
    options = whisper.transcription_options(language)
    results, audio_s, started = [], 0.0, time.perf_counter()
    for start in range(0, len(items), FILES_PER_BATCH):
        chunk = items[start : start + FILES_PER_BATCH]
        for segments in transcriber.transcribe_batch([str(i.path) for i in chunk], options):
            channels = sorted({s.channel for s in segments}) or [0]
            results.append(
                {
                    "channels": [
                        {"text": " ".join(s.text.strip() for s in segments if s.channel == c)}
                        for c in channels
                    ]
                }
            )
    elapsed = time.perf_counter() - started
    for item in items:
        length = header_length(str(item.path))
        audio_s += length[0] if length else 0.0
    scored = score(items, results, language)
    words = sum(len(normalize(i.reference, language).split()) for i in items if i.reference)  # as scored
    return scored, len(items), words, audio_s, elapsed


def gate(
    conn, version: str, evaluations: dict[tuple[str, str], float | None], margin: float
) -> tuple[bool, list]:
    """(passed, rows): each evaluated (language, set) against the promoted version's WER on the same set."""
    with conn.cursor() as cur:
        cur.execute(read_sql("select_promoted_models"))
        promoted = {lang: (name, v) for lang, name, v, _ in cur.fetchall()}
    rows, passed = [], True
    for (language, dataset), wer in sorted(evaluations.items()):
        if language not in promoted:
            rows.append((language, dataset, wer, None, None, "first version for the language"))
            continue
        name, promoted_version = promoted[language]
        with conn.cursor() as cur:
            cur.execute(read_sql("select_model_evaluations"), {"model_version": promoted_version})
            theirs = {(lang, ds): w for lang, ds, w, _ in cur.fetchall()}
        baseline = theirs.get((language, dataset))
        if promoted_version == version or baseline is None or wer is None:
            verdict = "same version" if promoted_version == version else "no comparable evaluation"
            rows.append((language, dataset, wer, baseline, name, verdict))
            continue
        ok = wer <= baseline + margin
        passed = passed and ok
        verdict = "ok" if ok else f"worse by {wer - baseline:.4f} > {margin}"
        rows.append((language, dataset, wer, baseline, f"{name} {promoted_version[:12]}", verdict))
    return passed, rows


def _gate_table(rows: list) -> str:
    def pct(v):
        return "" if v is None else f"{100 * v:.2f} %"

    lines = [
        f"| {lang} | {ds} | {pct(w)} | {pct(b)} | {p or ''} | {verdict} |"
        for lang, ds, w, b, p, verdict in rows
    ]
    return "\n".join(
        ["| language | set | WER | promoted WER | promoted | verdict |", "|---|---|---|---|---|---|", *lines]
    )


@_model_asset(
    deps=[asr_model],
    kinds={"python"},
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_NAME,
            asset="asr_model_eval",
            blocking=True,
            description="The quality gate: for every language and set evaluated, WER no worse than the promoted "
            "version's by more than max_wer_increase. A failure keeps the model from asr_model_promotion.",
        )
    ],
    description="Word error rate per language of the model on the shipped evaluation set (and ../shared/eval "
    "where present), with the pipeline's decoding; in asr_raw.model_evaluations and dim_model_versions.",
)
def asr_model_eval(
    context: dg.AssetExecutionContext,
    config: ModelEvalConfig,
    whisper: WhisperModelResource,
    postgres: PostgresResource,
):
    name = context.partition_key
    transcriber = whisper.transcriber(model_location(name))
    version = transcriber.model_version
    languages = speaks(transcriber) & (
        {*config.languages} or {p.name for p in EVAL_DIR.iterdir() if p.is_dir()}
    )
    if not languages:
        raise dg.Failure(f"{name} speaks none of the evaluation languages {config.languages or 'shipped'}")
    evaluations: dict[tuple[str, str], float | None] = {}
    table, metadata = [], {}
    with postgres.connect() as conn:
        for language, dataset, folder in evaluation_sets(languages, config.include_shared_eval):
            scored, files, words, audio_s, elapsed = _transcribe_set(transcriber, whisper, language, folder)
            wer = scored["wer"]
            evaluations[(language, dataset)] = wer
            decoding = whisper.decoding(whisper.transcription_options(language))
            with conn.cursor() as cur:
                cur.execute(
                    read_sql("upsert_model_evaluation"),
                    {
                        "model_version": version, "language": language, "dataset": dataset, "model_name": name,
                        "files": files, "reference_words": words, "wer": wer, "audio_s": audio_s,
                        "transcribe_s": elapsed, "decoding": json.dumps(decoding), "run_id": context.run.run_id,
                    },
                )  # fmt: skip
            context.log.info(f"{name} {language} {dataset}: WER {wer:.4f} on {files} files ({audio_s:.0f} s)")
            table.append((language, dataset, files, words, wer, audio_s / elapsed if elapsed else None))
            if dataset == SAMPLES_DATASET and wer is not None:
                metadata[f"wer_{language}"] = round(wer, 4)  # one series per language in the UI's plots
        passed, rows = gate(conn, version, evaluations, config.max_wer_increase)
    lines = [
        f"| {lang} | {ds} | {files} | {words} | {'' if w is None else f'{100 * w:.2f} %'} | "
        f"{'' if speed is None else f'{speed:.1f}x'} |"
        for lang, ds, files, words, w, speed in table
    ]
    metadata["wer_by_language"] = dg.MetadataValue.md(
        "\n".join(["| language | set | files | words | WER | speed |", "|---|---|---|---|---|---|", *lines])
    )
    metadata["model"] = f"whisper {name} {version[:12]}"
    yield dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(version))
    yield dg.AssetCheckResult(
        check_name=CHECK_NAME,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "comparison": dg.MetadataValue.md(_gate_table(rows)),
            "max_wer_increase": config.max_wer_increase,
        },
    )


class PromotionConfig(dg.Config):
    languages: list[str] = []  # empty: every language evaluated on the shipped set
    max_wer_increase: float = 0.01  # the gate's margin, checked again here


@_model_asset(
    deps=[asr_model_eval],
    kinds={"postgres"},
    description="The model's version promoted for the languages it was evaluated in: the version new ingest "
    "batches transcribe those languages with (asr_raw.model_promotions; the view asr_raw.promoted_models).",
)
def asr_model_promotion(
    context: dg.AssetExecutionContext,
    config: PromotionConfig,
    whisper: WhisperModelResource,
    postgres: PostgresResource,
) -> dg.MaterializeResult:
    name = context.partition_key
    from asr_assets.asr.checkpoints import locate_checkpoint

    version = locate_checkpoint(model_location(name))[3]
    with postgres.connect() as conn:
        with conn.cursor() as cur:
            cur.execute(read_sql("select_model_evaluations"), {"model_version": version})
            evaluated = {(lang, ds): wer for lang, ds, wer, _ in cur.fetchall()}
            cur.execute(read_sql("select_promoted_models"))
            promoted = {lang: v for lang, _, v, _ in cur.fetchall()}
        languages = sorted(
            {lang for lang, ds in evaluated if ds == SAMPLES_DATASET}
            & ({*config.languages} or {lang for lang, _ in evaluated})
        )
        if not languages:
            raise dg.Failure(
                f"{name} {version[:12]} has no evaluation on the shipped set; materialise asr_model_eval first"
            )
        chosen = {key: wer for key, wer in evaluated.items() if key[0] in languages}
        passed, rows = gate(conn, version, chosen, config.max_wer_increase)
        if not passed:
            raise dg.Failure(
                f"the quality gate refuses {name} {version[:12]}",
                metadata={"comparison": dg.MetadataValue.md(_gate_table(rows))},
            )
        with conn.cursor() as cur:
            for language in languages:
                cur.execute(
                    read_sql("insert_model_promotion"),
                    {
                        "language": language, "model_name": name, "model_version": version,
                        "wer": evaluated[(language, SAMPLES_DATASET)], "previous_version": promoted.get(language),
                        "run_id": context.run.run_id,
                    },
                )  # fmt: skip
    context.log.info(f"promoted {name} {version[:12]} for {', '.join(languages)}")
    return dg.MaterializeResult(
        metadata={
            "model": f"whisper {name} {version[:12]}",
            "languages": ", ".join(languages),
            "gate": dg.MetadataValue.md(_gate_table(rows)),
        }
    )


promote_model_job = dg.define_asset_job(
    "promote_model_job",
    selection=dg.AssetSelection.assets(asr_model, asr_model_eval, asr_model_promotion),
    tags=ENGINE_LANE,
    description="Register, evaluate and (if the quality gate passes) promote one model: pick its partition.",
)


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def model_registry_sensor(context: dg.SensorEvaluationContext):
    """Adds every registered model (the catalog and ASR_CANDIDATE_MODELS) as a partition of asr_models."""
    known = set(context.instance.get_dynamic_partitions(asr_models.name))
    new = [name for name in registered_models() if name not in known]
    if not new:
        return dg.SkipReason("every registered model has its partition")
    return dg.SensorResult(dynamic_partitions_requests=[asr_models.build_add_request(new)])


def promoted_models(postgres: PostgresResource) -> dict[str, tuple[str, str]]:
    """language -> (model name, version) in force."""
    with postgres.connect() as conn, conn.cursor() as cur:
        cur.execute(read_sql("select_promoted_models"))
        return {lang: (name, version) for lang, name, version, _ in cur.fetchall()}


# The tables the model assets write, as the dbt sources dim_model_versions reads them: nodes of the graph, so the
# UI shows asr_model -> asr_model_eval -> asr_raw/model_evaluations -> dim_model_versions.
_MODEL_TABLES = (  # (table, the asset that writes it, what it holds)
    ("models", asr_model, "every registered checkpoint version (written by asr_model)"),
    ("model_evaluations", asr_model_eval, "WER per version, language and set (written by asr_model_eval)"),
    (
        "promoted_models",
        asr_model_promotion,
        "the version in force per language (asr_model_promotion writes asr_raw.model_promotions; this view takes "
        "the latest per language)",
    ),
)
model_tables = [
    dg.AssetSpec(
        ["asr_raw", table],
        deps=[writer],
        description=f"asr_raw.{table}: {what}.",
        kinds={"postgres"},
        group_name="models",
        metadata={"dagster/table_name": f"asr_raw.{table}"},
    )
    for table, writer, what in _MODEL_TABLES
]
