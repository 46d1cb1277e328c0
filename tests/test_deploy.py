"""The deployment files, checked without Docker or systemd: compose.yaml against the compose-spec
schema, every command they run is a real `heard` command with real options, every variable is
one heard reads, and the Prometheus alerts name only metrics /metrics shows (issue #23)."""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
from ruamel.yaml import YAML

from heard.cli import app
from surveys.settings import Settings
from tests.pipeline import client_for
from tests.test_observability import METRICS_TOKEN

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = Path(__file__).parent / "data" / "compose-spec" / "src" / "compose-spec" / "schema" \
    / "compose-spec.json"
UNITS = ROOT / "deploy" / "systemd"
SETTINGS = {str(field.validation_alias) for field in Settings.model_fields.values()}
# read by others than surveys/settings.py: prometheus_client, postgres' image, compose itself
OTHERS = {"PROMETHEUS_MULTIPROC_DIR", "POSTGRES_PASSWORD", "HEARD_PORT"}
HEARD_SERVICES = ("migrate", "web", "worker", "cron")


def compose() -> dict[str, Any]:
    return YAML(typ="safe").load((ROOT / "compose.yaml").read_text())


def heard_command(args: list[str]) -> tuple[str, dict[str, Any]]:
    """The `heard` command `args` run and its parsed options; an error if there is no such
    command or option (click's own parsing, nothing invoked)."""
    command: Any = typer.main.get_command(app)
    context = command.make_context("heard", list(args))
    while hasattr(command, "resolve_command"):  # a group: on to its sub-command
        name, command, rest = command.resolve_command(
            context, [*context._protected_args, *context.args])
        context = command.make_context(name, rest, parent=context)
    return context.command_path, context.params


def test_heard_command_refuses_what_heard_does_not_have():
    assert heard_command(["db", "upgrade"])[0] == "heard db upgrade"
    with pytest.raises(Exception, match="No such option"):
        heard_command(["serve", "--threads", "2"])
    with pytest.raises(Exception, match="No such command"):
        heard_command(["db", "migrate"])


def test_compose_file_follows_the_compose_spec():
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft201909Validator(schema)  # (its $schema names 2019-09 oddly)
    errors = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
              for error in validator.iter_errors(compose())]
    assert errors == []
    broken = compose()
    broken["services"]["web"]["depends_on"]["migrate"]["condition"] = "service_finished"
    assert list(validator.iter_errors(broken))  # the schema does check conditions


def test_compose_runs_the_production_layout():
    services = compose()["services"]
    commands = {name: heard_command(services[name]["command"][1:]) for name in HEARD_SERVICES}
    assert {name: path for name, (path, _) in commands.items()} == {
        "migrate": "heard db upgrade", "web": "heard serve", "worker": "heard worker",
        "cron": "heard cron"}
    assert all(services[name]["command"][0] == "heard" for name in HEARD_SERVICES)
    serve = commands["web"][1]
    assert serve["workers"] == 0 and serve["http_workers"] == 2 and serve["host"] == "0.0.0.0"
    assert services["worker"]["scale"] == 2 and services["cron"]["scale"] == 1
    for name in ("web", "worker", "cron"):  # migrations first, once
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"}
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert services["migrate"]["restart"] == "no"
    for name in ("postgres", "redis"):
        assert services[name]["volumes"] and services[name]["healthcheck"]["test"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["worker"]["healthcheck"]["test"][-2:] == ["-m", "worker.alive"]


def test_compose_sets_only_variables_heard_reads():
    services = compose()["services"]
    for name in HEARD_SERVICES:
        environment = services[name]["environment"]
        assert set(environment) <= SETTINGS | OTHERS, name
        assert environment["HEARD_LOG_FORMAT"] == "json"
        assert environment["DATABASE_URL"].startswith("postgresql://")
        assert environment["REDIS_URL"].startswith("redis://redis:")
    text = (ROOT / "compose.yaml").read_text()
    assert set(re.findall(r"\$\{([A-Z0-9_]+)", text)) <= SETTINGS | OTHERS
    example = (ROOT / "deploy" / "env.example").read_text()
    assert set(re.findall(r"^([A-Z0-9_]+)=", example, re.MULTILINE)) <= SETTINGS | OTHERS


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys as written
    parser.read_string((UNITS / name).read_text())
    return parser


@pytest.mark.parametrize("name, command", [
    ("heard-migrate.service", "heard db upgrade"), ("heard-web.service", "heard serve"),
    ("heard-worker@.service", "heard worker"), ("heard-cron.service", "heard cron")])
def test_systemd_units_run_heard_commands_after_the_migrations(name: str, command: str):
    parsed = unit(name)
    service = parsed["Service"]
    program, *args = service["ExecStart"].split()
    assert program.endswith("/bin/heard")
    path, options = heard_command(args)
    assert path == command
    assert service["User"] == "heard" and service["EnvironmentFile"] == "/etc/heard/heard.env"
    environment = dict(pair.split("=", 1) for pair in service["Environment"].split())
    assert set(environment) <= SETTINGS | OTHERS
    assert environment["HEARD_LOG_FORMAT"] == "json"
    if command == "heard db upgrade":
        assert service["Type"] == "oneshot"
    else:
        assert parsed["Unit"]["Requires"] == "heard-migrate.service"
        assert "heard-migrate.service" in parsed["Unit"]["After"].split()
        assert service["Restart"] == "always"
    if command == "heard serve":
        assert options["workers"] == 0 and options["http_workers"] == 2
        assert environment["PROMETHEUS_MULTIPROC_DIR"].startswith("/run/")


def test_the_image_installs_the_lock_by_hash_runs_as_nobody_root_and_has_every_script():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"pip install [^\n]*--require-hashes -r \S*requirements\.lock", dockerfile)
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    ci_fonts = set(re.findall(r"fonts-[a-z0-9-]+", (ROOT / ".ci" / "run").read_text()))
    assert ci_fonts and ci_fonts <= set(re.findall(r"fonts-[a-z0-9-]+", dockerfile))
    assert "libraqm0" in dockerfile  # Pillow's shaping of Bengali, Devanagari, Tamil, Arabic
    base = re.search(r"^FROM python:\$\{PYTHON\}", dockerfile, re.MULTILINE)
    python = re.search(r"^ARG PYTHON=(\S+)", dockerfile, re.MULTILINE)
    assert base and python and python.group(1) == "3.11"  # what the lock is resolved on


def test_the_image_keeps_what_heard_needs_and_drops_the_dev_tools():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from runtime_only import needed
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    roots = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    kept = needed(roots)
    assert {"twilio", "prometheus-client", "python-json-logger", "psycopg-binary", "hiredis",
            "uvicorn", "rq", "pillow"} <= kept
    assert not kept & {"pytest", "playwright", "ruff", "hypothesis", "pandas", "pip-tools"}


def metric_names(exposition: str) -> set[str]:
    from prometheus_client.parser import text_string_to_metric_families

    names = set()
    for family in text_string_to_metric_families(exposition):
        names.add(family.name)
        names.update({"counter": [f"{family.name}_total"],
                      "histogram": [f"{family.name}_{part}" for part in ("bucket", "count",
                                                                         "sum")]}
                     .get(family.type, []))
    return names


def test_the_alerts_name_only_metrics_heard_shows(runtime, monkeypatch):
    monkeypatch.setenv("HEARD_METRICS_TOKEN", METRICS_TOKEN)
    client = client_for(runtime)
    client.get("/healthz")  # a request, so request latency has a sample
    exposition = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    shown = metric_names(exposition.text)
    rules = YAML(typ="safe").load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert len(alerts) >= 5
    named = set()
    for rule in alerts:
        assert rule["alert"] and rule["expr"] and rule["annotations"]["summary"]
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "0s"))
        named |= set(re.findall(r"\bheard_[a-z_]+", rule["expr"]))
    assert named - shown == set()
    assert {"heard_inbox_backlog_oldest_seconds", "heard_provider_errors_total",
            "heard_rq_queue_jobs"} <= named  # a stale backlog, failing sends, a growing queue


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_accepts_the_units(tmp_path: Path):
    """systemd's own check of every unit (the venv's path made this machine's heard)."""
    heard = Path(sys.executable).with_name("heard")
    for source in UNITS.glob("*.service"):
        name = source.name.replace("@.", "@1.")  # an instance of the template
        (tmp_path / name).write_text(source.read_text().replace("/opt/heard/venv/bin/heard",
                                                                str(heard)))
    (tmp_path / "broken.service").write_text("[Service]\nExecStart=/nowhere/heard serve\n")
    for unit_file in sorted(tmp_path.glob("*.service")):
        checked = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit_file)],
                                 capture_output=True, text=True, timeout=60, cwd=tmp_path)
        if unit_file.name == "broken.service":
            assert checked.returncode != 0  # the check does refuse a bad unit
        else:
            assert (checked.returncode, checked.stderr) == (0, ""), unit_file.name
