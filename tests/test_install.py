"""The README's install (make) and the container image run one script, scripts/install.sh; its
--check path prints what it would run and changes nothing (no reinstall here)."""

import os
import re
import subprocess

import yaml

from conftest import REPO


def test_install_script_check_changes_nothing(tmp_path):
    venv = tmp_path / "venv"
    done = subprocess.run([str(REPO / "scripts" / "install.sh"), "--check"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "VENV": str(venv), "TORCH_INDEX_URL": "https://download.pytorch.org/whl/cu124"})
    assert done.returncode == 0, done.stderr
    steps = [line.removeprefix("would run: ") for line in done.stdout.splitlines() if line.startswith("would run: ")]
    assert steps[-4:] == [f"python3 -m venv {venv}", f"{venv}/bin/pip install --quiet --upgrade pip",
                          f"{venv}/bin/pip install --quiet --index-url https://download.pytorch.org/whl/cu124 torch==2.13.0",
                          f"{venv}/bin/pip install --quiet -e .[test]"]
    assert not venv.exists()
    assert re.search(r'"torch==([\d.]+)"', (REPO / "pyproject.toml").read_text()).group(1) == "2.13.0"  # the same pin


def test_make_and_the_image_both_run_it(tmp_path):
    planned = subprocess.run(["make", "-n", f"VENV={tmp_path / 'venv'}", "test"], cwd=REPO, capture_output=True,
                             text=True, timeout=60)
    assert planned.returncode == 0, planned.stderr
    assert f"VENV={tmp_path / 'venv'} scripts/install.sh" in planned.stdout.splitlines()
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^RUN EXTRAS= TORCH_INDEX_URL=\$\{TORCH_INDEX_URL\} scripts/install.sh", dockerfile, re.M)
    assert re.search(r"^ARG BASE=", dockerfile, re.M) and "FROM ${BASE}" in dockerfile  # a CUDA base by build arg


def test_compose_runs_api_workers_postgres_and_redis():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    assert set(compose) == {"api", "worker", "postgres", "redis"}
    assert compose["worker"]["command"] == ["hostscore", "worker"]
    for service in ("api", "worker"):
        env = compose[service]["environment"]
        assert env["HOSTSCORE_DATABASE_URL"].startswith("postgresql+psycopg://") and env["HOSTSCORE_BROKER_URL"].startswith("redis://")
