"""The production shape names only what the code has.

No container engine or cluster runs here, so these tests read docker-compose.yml, the Dockerfile and every
YAML file under deploy/ and hold them against the code: each command a container runs is a console script
of this workspace whose real argument parser accepts it; each environment variable is a field of that
service's Settings class (or the shared TALENT_ENV) and the whole environment loads into it; every image
is built from a Dockerfile here or is a known third-party image; each service has its API and its worker
with several replicas; and no file holds a real secret.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import itertools
import os
import re
import shlex
import sys
import tomllib
import typing
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import AliasChoices, SecretStr, ValidationError
from servicekit.settings import ServiceSettings, is_placeholder

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
INIT_SQL = DEPLOY / "postgres" / "init-databases.sql"
BUS_SETUP = DEPLOY / "kafka" / "setup-bus.sh"

OUR_IMAGE = "registry.example.org/talent/platform"
# Third-party images by repository, with the commands their own entrypoint accepts (None: the default).
THIRD_PARTY_COMMANDS: dict[str, set[str | None]] = {
    "apache/kafka": {None, "bash"},  # bash: the bus setup script (deploy/kafka/setup-bus.sh)
    "postgres": {None, "postgres"},
    "redis": {None, "redis-server"},
}
SERVICES = ("applicant", "benefits", "housing", "notify", "insight")
DEPLOYABLES = (*SERVICES, "gateway")
PORTS = {"gateway": 8000, "applicant": 8001, "benefits": 8002, "housing": 8003, "notify": 8004, "insight": 8005}
JWKS_URL = "http://gateway:8000/.well-known/jwks.json"
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
# AUTH, but not Kafka's KAFKA_AUTHORIZER_CLASS_NAME (a class name).
SECRET_LIKE_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|AUTH(?!ORIZER_CLASS)|_KEYS?$|_KEY_")
PLACEHOLDER_MARK = "insecure-replace-me"
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


# --- what the code declares ---------------------------------------------------------------------------


@cache
def console_scripts() -> dict[str, str]:
    """Every [project.scripts] entry of the workspace: script name -> "module:function"."""
    scripts: dict[str, str] = {}
    for pyproject in [ROOT / "pyproject.toml", *ROOT.glob("*/*/pyproject.toml"), *ROOT.glob("*/pyproject.toml")]:
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        scripts.update(project.get("scripts", {}))
    return scripts


class _Parsed(Exception):  # a signal that the arguments parsed, not an error
    def __init__(self, namespace: argparse.Namespace) -> None:
        super().__init__(namespace)
        self.namespace = namespace


def parse_command(argv: list[str]) -> argparse.Namespace:
    """Run the console script's real `main()` until its argparse parser has parsed `argv`, and no further."""
    script, *args = argv
    assert script in console_scripts(), f"{script!r} is not a console script of this workspace"
    module_name, _, function = console_scripts()[script].partition(":")
    main = getattr(importlib.import_module(module_name), function)
    parse_args = argparse.ArgumentParser.parse_args

    def stop_after_parsing(self: argparse.ArgumentParser, *a: Any, **kw: Any) -> argparse.Namespace:
        raise _Parsed(parse_args(self, *a, **kw))

    with (
        mock.patch.object(argparse.ArgumentParser, "parse_args", stop_after_parsing),
        mock.patch.object(sys, "argv", [script, *args]),
    ):
        try:
            main()
        except _Parsed as parsed:
            return parsed.namespace
        except SystemExit as exc:
            raise AssertionError(f"`{shlex.join(argv)}`: the CLI rejects these arguments (exit {exc.code})") from exc
    raise AssertionError(f"`{shlex.join(argv)}`: the CLI did not parse its arguments")


@cache
def settings_class(script: str) -> type[ServiceSettings]:
    """The Settings class of the deployable a console script runs (`<package>.config`)."""
    package = console_scripts()[script].partition(":")[0].split(".")[0]
    module = importlib.import_module(f"{package}.config")
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, ServiceSettings) and value.__module__ == module.__name__
    ]
    assert len(classes) == 1, f"{module.__name__} should define one Settings class, found {classes}"
    return classes[0]


def setting_names(cls: type[ServiceSettings]) -> dict[str, str]:
    """Environment variable -> field: the env prefix plus the field name, or the field's own aliases."""
    prefix = cls.model_config.get("env_prefix", "")
    names: dict[str, str] = {}
    for field_name, info in cls.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.update({choice.upper(): field_name for choice in alias.choices if isinstance(choice, str)})
        elif isinstance(alias, str):
            names[alias.upper()] = field_name
        else:
            names[f"{prefix}{field_name}".upper()] = field_name
    return names


def secret_fields(cls: type[ServiceSettings]) -> set[str]:
    return {
        name
        for name, info in cls.model_fields.items()
        if info.annotation is SecretStr or SecretStr in typing.get_args(info.annotation)
    }


def is_secret_setting(script: str, variable: str) -> bool:
    field = setting_names(settings_class(script)).get(variable.upper())
    return field in secret_fields(settings_class(script)) or bool(SECRET_LIKE_NAME.search(variable))


def load_settings(script: str, environment: Mapping[str, str]) -> ServiceSettings:
    """Build the Settings exactly as the process would: from these environment variables and no others."""
    with mock.patch.dict(os.environ, dict(environment), clear=True):
        return settings_class(script)()


def stand_in(name: str) -> str:
    """A strong-looking value for a secret the operator provides (never a placeholder)."""
    return "stand-in-" + base64.urlsafe_b64encode(name.encode().ljust(32, b"#")).decode().rstrip("=")


def interpolate(value: str) -> str:
    """Compose's variable substitution, with a stand-in for every required (`:?`) variable."""

    def replace(match: re.Match[str]) -> str:
        op, arg = match["op"] or "", match["arg"] or ""
        if "?" in op:
            return stand_in(match["name"])
        return arg if "-" in op else ""

    return INTERPOLATION.sub(replace, value.replace("$$", "\0")).replace("\0", "$")


def image_repository(image: str) -> str:
    """`registry/name:tag@digest` -> `registry/name` (a registry's port is not a tag)."""
    image = image.split("@", 1)[0]
    head, _, last = image.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile_cmd() -> list[str]:
    cmds = [rest for keyword, rest in dockerfile_instructions() if keyword == "CMD"]
    assert cmds, "the Dockerfile has no CMD"
    command = yaml.safe_load(cmds[-1])
    assert isinstance(command, list), "CMD should be in exec form (a JSON list), so signals reach the process"
    return [str(part) for part in command]


# --- what the files declare ---------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return document


def compose_services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose()["services"]
    return services


def compose_environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {
        str(k): "" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for k, v in environment.items()
    }


def compose_argv(service: dict[str, Any]) -> list[str]:
    entrypoint = service.get("entrypoint")
    if entrypoint is not None and not is_ours(service.get("image", "")):
        # A third-party image running a script of ours (kafka-setup): the entrypoint is what runs.
        return shlex.split(entrypoint) if isinstance(entrypoint, str) else [str(part) for part in entrypoint]
    command = service.get("command")
    if command is None:
        return dockerfile_cmd() if is_ours(service.get("image", "")) else []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def is_ours(image: str) -> bool:
    return image_repository(image) == OUR_IMAGE


def our_compose_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose_services().items() if is_ours(s.get("image", "")) or "build" in s}


@cache
def manifests() -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")]):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found.append((path, document))
    return found


def of_kind(*kinds: str) -> list[dict[str, Any]]:
    return [document for _, document in manifests() if document.get("kind") in kinds]


def named(kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in of_kind(kind) if d["metadata"]["name"] == name]
    assert matches, f"no {kind} named {name!r} under deploy/"
    return matches[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template: dict[str, Any] = spec["template"]["spec"]
    return template


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    labels: dict[str, str] = spec["template"]["metadata"].get("labels", {})
    return labels


def containers(workload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def all_containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for workload in of_kind(*WORKLOADS):
        for container in containers(workload):
            yield f"{workload['kind']} {workload['metadata']['name']} / {container['name']}", container


def k8s_argv(container: dict[str, Any]) -> list[str]:
    argv = [*container.get("command", []), *container.get("args", [])]
    return [str(part) for part in argv] or (dockerfile_cmd() if is_ours(container["image"]) else [])


def our_containers() -> Iterator[tuple[str, dict[str, Any]]]:
    return ((where, c) for where, c in all_containers() if is_ours(c["image"]))


def config_data(kind: str, name: str) -> dict[str, str]:
    document = named(kind, name)
    data = {k: str(v) for k, v in (document.get("stringData") or {}).items()}
    encoded = document.get("data") or {}
    data.update({k: base64.b64decode(v).decode() if kind == "Secret" else str(v) for k, v in encoded.items()})
    return data


def k8s_environment(container: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Variable -> (where its value comes from: "value" | "ConfigMap" | "Secret", the value)."""
    environment: dict[str, tuple[str, str]] = {}
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if key in source:
                for name, value in config_data(kind, source[key]["name"]).items():
                    environment[prefix + name] = (kind, value)
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = ("value", str(variable["value"]))
        else:
            ref = variable["valueFrom"]
            kind, key = ("Secret", "secretKeyRef") if "secretKeyRef" in ref else ("ConfigMap", "configMapKeyRef")
            environment[variable["name"]] = (kind, config_data(kind, ref[key]["name"])[ref[key]["key"]])
    return environment


def runs(argv: list[str], script: str, command: str) -> bool:
    return argv[:2] == [script, command]


def workloads_running(script: str, command: str) -> list[dict[str, Any]]:
    return [
        w
        for w in of_kind("Deployment", "StatefulSet")
        if any(runs(k8s_argv(c), script, command) for c in pod_spec(w)["containers"])
    ]


def with_stand_ins(environment: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    """The environment as an operator would fill it: each Secret value replaced by a real-looking one."""
    filled = {}
    for name, (kind, value) in environment.items():
        if kind == "Secret":
            url = urlsplit(value)
            value = (
                value.replace(f":{url.password}@", f":{stand_in(name)}@")
                if "://" in value and url.password
                else stand_in(name)
            )
        filled[name] = value
    return filled


# --- the tests ------------------------------------------------------------------------------------------


class TestDockerImage:
    def test_the_default_command_is_a_real_cli_command(self) -> None:
        namespace = parse_command(dockerfile_cmd())
        assert namespace.command == dockerfile_cmd()[1]

    def test_the_image_installs_the_locked_dependencies_with_uv_from_pypi(self) -> None:
        runs_ = " ".join(rest for keyword, rest in dockerfile_instructions() if keyword == "RUN")
        assert re.search(r"pip install [^&;]*\buv\b", runs_), "uv comes from PyPI"
        assert "uv sync --frozen --no-dev" in runs_
        # Each CLI finds its alembic.ini next to its sources, so the workspace stays installed from /app.
        assert "--no-editable" not in runs_

    def test_every_workspace_member_is_copied_into_the_image(self) -> None:
        workspace = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]["members"]
        members = sorted(
            {p.parent.relative_to(ROOT) for glob in workspace for p in ROOT.glob(f"{glob}/pyproject.toml")}
        )
        copies = " ".join(rest for keyword, rest in dockerfile_instructions() if keyword == "COPY")
        for member in members:
            assert f"{member}/pyproject.toml" in copies, f"the dependency layer misses {member}/pyproject.toml"
            assert re.search(rf"\b{member.parts[0]}\b", copies), f"the sources of {member} are not copied"

    def test_every_path_copied_from_the_build_context_exists(self) -> None:
        for keyword, rest in dockerfile_instructions():
            if keyword == "COPY" and "--from=" not in rest:
                *sources, _destination = [part for part in rest.split() if not part.startswith("--")]
                for source in sources:
                    assert (ROOT / source).exists(), f"COPY {source}: no such path in the build context"

    def test_the_build_context_leaves_out_the_virtualenv_git_and_local_secrets(self) -> None:
        ignored = {line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip()}
        assert {".venv", ".git", ".env"} <= ignored
        assert not any("migrations" in pattern or pattern.endswith(".ini") for pattern in ignored)

    def test_the_image_runs_as_a_non_root_user_in_production_mode(self) -> None:
        instructions = dockerfile_instructions()
        users = [rest for keyword, rest in instructions if keyword == "USER"]
        assert users and users[-1].split(":")[0] not in {"root", "0"}
        assert any(keyword == "ENV" and "TALENT_ENV=production" in rest for keyword, rest in instructions)


class TestComposeFile:
    def test_every_built_image_has_a_dockerfile_in_its_build_context(self) -> None:
        for name, service in compose_services().items():
            build = service.get("build")
            if build is None:
                continue
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            assert (context / dockerfile).is_file(), f"{name}: no {dockerfile} in {context}"
            assert is_ours(service.get("image", OUR_IMAGE)), f"{name}: the built image is tagged {OUR_IMAGE}"

    def test_every_image_is_ours_or_a_known_third_party_image(self) -> None:
        for name, service in compose_services().items():
            repository = image_repository(service.get("image", OUR_IMAGE))
            assert repository == OUR_IMAGE or repository in THIRD_PARTY_COMMANDS, f"{name}: unknown image {repository}"
            if repository == OUR_IMAGE:
                assert "build" in service, f"{name}: {OUR_IMAGE} is built from ./Dockerfile"

    def test_every_command_is_a_console_script_the_cli_accepts(self) -> None:
        for name, service in compose_services().items():
            argv = compose_argv(service)
            repository = image_repository(service.get("image", OUR_IMAGE))
            if repository in THIRD_PARTY_COMMANDS:
                assert (argv[0] if argv else None) in THIRD_PARTY_COMMANDS[repository], f"{name}: {argv}"
                continue
            assert service.get("entrypoint") is None, f"{name}: the image's commands are its console scripts"
            namespace = parse_command(argv)
            assert namespace.command == argv[1], name

    def test_every_environment_variable_is_a_real_setting(self) -> None:
        for name, service in our_compose_services().items():
            script = compose_argv(service)[0]
            known = setting_names(settings_class(script))
            unknown = sorted(set(compose_environment(service)) - set(known))
            assert not unknown, f"{name}: {unknown} are not settings of {settings_class(script).__name__}"

    @pytest.mark.parametrize("script", DEPLOYABLES)
    def test_each_environment_loads_into_the_settings_in_production_mode(self, script: str) -> None:
        services = {n: s for n, s in our_compose_services().items() if compose_argv(s)[0] == script}
        assert services, f"no compose service runs {script}"
        for name, service in services.items():
            environment = {k: interpolate(v) for k, v in compose_environment(service).items()}
            settings = load_settings(script, environment)
            assert settings.environment == "production", name
            assert (
                settings.database_url
                == f"postgresql+asyncpg://talent:{stand_in('POSTGRES_PASSWORD')}@postgres:5432/{script}"
            )
            if script == "gateway":
                expected = {s: f"http://{s}:{PORTS[s]}" for s in SERVICES}
                assert getattr(settings, "upstreams", None) == expected, name
                assert str(getattr(settings, "redis_url", "")).endswith("@redis:6379/0"), name
            else:
                assert settings.workers_in_process is False, f"{name}: the workers run in {script}-worker"
                assert settings.kafka_enable_idempotence is True, f"{name}: Apache Kafka supports idempotence"
                assert settings.kafka_bootstrap_servers == "kafka:9092", name
                assert settings.jwks_url == JWKS_URL, name

    @pytest.mark.parametrize("script", SERVICES)
    def test_each_service_runs_its_api_and_its_worker_with_two_replicas(self, script: str) -> None:
        for command in ("serve", "worker"):
            running = [s for s in our_compose_services().values() if runs(compose_argv(s), script, command)]
            assert running, f"no compose service runs `{script} {command}`"
            assert all(s.get("deploy", {}).get("replicas", 1) >= 2 for s in running), f"{script} {command}"

    @pytest.mark.parametrize("script", DEPLOYABLES)
    def test_migrations_run_once_before_the_processes_that_need_them(self, script: str) -> None:
        migrators = [n for n, s in our_compose_services().items() if compose_argv(s) == [script, "migrate"]]
        assert len(migrators) == 1, f"one one-shot `{script} migrate`, found {migrators}"
        assert compose_services()[migrators[0]].get("restart") == "no"
        for name, service in our_compose_services().items():
            argv = compose_argv(service)
            if argv[0] == script and argv[1] in {"serve", "worker"}:
                condition = service.get("depends_on", {}).get(migrators[0], {}).get("condition")
                assert condition == "service_completed_successfully", f"{name} must wait for {migrators[0]}"
                if argv[1] == "serve":
                    assert parse_command(argv).no_migrate, f"{name}: {migrators[0]} migrates, not every replica"

    @pytest.mark.parametrize("script", DEPLOYABLES)
    def test_each_api_listens_on_its_port_and_has_a_health_check(self, script: str) -> None:
        running = [(n, s) for n, s in our_compose_services().items() if runs(compose_argv(s), script, "serve")]
        assert running, f"no compose service runs `{script} serve`"
        for name, service in running:
            namespace = parse_command(compose_argv(service))
            assert (namespace.host, namespace.port) == ("0.0.0.0", PORTS[script]), name  # noqa: S104
            probe = " ".join(service.get("healthcheck", {}).get("test", []))
            assert re.search(rf"http://127\.0\.0\.1:{namespace.port}/(healthz|readyz)\b", probe), name
        if script == "gateway":
            assert any("8000:8000" in str(p) for _, s in running for p in s.get("ports", [])), "the public door"

    def test_kafka_runs_in_kraft_mode_and_postgres_creates_every_database(self) -> None:
        kafka = [
            s
            for s in compose_services().values()
            if image_repository(s.get("image", "")) == "apache/kafka" and "entrypoint" not in s
        ]
        assert len(kafka) == 1
        environment = compose_environment(kafka[0])
        assert set(environment["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
        assert not any("ZOOKEEPER" in variable for variable in environment)
        postgres = [s for s in compose_services().values() if image_repository(s.get("image", "")) == "postgres"]
        assert len(postgres) == 1
        mounts = [str(v) for v in postgres[0].get("volumes", [])]
        assert any(m.startswith("./deploy/postgres/init-databases.sql:/docker-entrypoint-initdb.d/") for m in mounts)
        created = set(re.findall(r"CREATE DATABASE (\w+);", INIT_SQL.read_text()))
        assert created == set(DEPLOYABLES)

    def test_no_secret_is_written_in_the_file(self) -> None:
        for name, service in compose_services().items():
            script = compose_argv(service)[0] if name in our_compose_services() else None
            for variable, value in compose_environment(service).items():
                secret = is_secret_setting(script, variable) if script else bool(SECRET_LIKE_NAME.search(variable))
                if secret:
                    assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", value), f"{name}: {variable} must be ${{VAR:?...}}"
                if "://" in value:
                    password = urlsplit(interpolate(value)).password
                    assert password in {None, stand_in("POSTGRES_PASSWORD"), stand_in("REDIS_PASSWORD")}, (
                        f"{name}: {variable} has a password written in the file"
                    )
            argv = compose_argv(service)
            for flag, value in itertools.pairwise(argv):
                if flag in {"--requirepass", "--password"}:
                    assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", value), f"{name}: {flag} must be a reference"


class TestKubernetesManifests:
    def test_the_kustomization_lists_every_manifest_except_the_secret_template(self) -> None:
        for kustomization in sorted(DEPLOY.rglob("kustomization.yaml")):
            listed = set(yaml.safe_load(kustomization.read_text()).get("resources", []))
            for resource in listed:
                assert (kustomization.parent / resource).exists(), f"{kustomization}: {resource} does not exist"
            here = {p.name for p in kustomization.parent.glob("*.yaml")} - {"kustomization.yaml"}
            assert here - listed <= {"secrets.example.yaml"}, f"{kustomization}: not listed {here - listed}"
            assert "secrets.example.yaml" not in listed, "applying the kustomization must not overwrite real secrets"

    def test_every_image_is_ours_or_a_known_third_party_image(self) -> None:
        for where, container in all_containers():
            repository = image_repository(container["image"])
            assert repository == OUR_IMAGE or repository in THIRD_PARTY_COMMANDS, f"{where}: {container['image']}"
        built = {image_repository(s.get("image", "")) for s in compose_services().values() if "build" in s}
        assert OUR_IMAGE in built, "our image is the one docker-compose.yml builds from ./Dockerfile"
        kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
        assert [i["name"] for i in kustomization.get("images", [])] == [OUR_IMAGE]

    def test_every_command_is_a_console_script_the_cli_accepts(self) -> None:
        for where, container in all_containers():
            argv = k8s_argv(container)
            repository = image_repository(container["image"])
            if repository in THIRD_PARTY_COMMANDS:
                assert (argv[0] if argv else None) in THIRD_PARTY_COMMANDS[repository], f"{where}: {argv}"
                continue
            namespace = parse_command(argv)
            assert namespace.command == argv[1], where

    def test_every_environment_variable_is_a_real_setting(self) -> None:
        for where, container in our_containers():
            script = k8s_argv(container)[0]
            known = setting_names(settings_class(script))
            unknown = sorted(set(k8s_environment(container)) - set(known))
            assert not unknown, f"{where}: {unknown} are not settings of {settings_class(script).__name__}"

    @pytest.mark.parametrize("script", DEPLOYABLES)
    def test_each_environment_loads_into_the_settings_in_production_mode(self, script: str) -> None:
        running = [(w, c) for w, c in our_containers() if k8s_argv(c)[0] == script]
        assert running, f"no container runs {script}"
        for where, container in running:
            settings = load_settings(script, with_stand_ins(k8s_environment(container)))
            assert settings.environment == "production", where
            assert settings.database_url.startswith("postgresql+asyncpg://"), where
            assert urlsplit(settings.database_url).path == f"/{script}", f"{where}: its own database"
            if script == "gateway":
                expected = {s: f"http://{s}:{PORTS[s]}" for s in SERVICES}
                assert getattr(settings, "upstreams", None) == expected, where
                assert str(getattr(settings, "redis_url", "")).startswith("redis://"), where
            else:
                assert settings.workers_in_process is False, where
                assert settings.kafka_enable_idempotence is True, where
                assert settings.jwks_url == JWKS_URL, where

    @pytest.mark.parametrize("script", SERVICES)
    def test_each_service_has_an_api_and_a_worker_deployment_with_several_replicas(self, script: str) -> None:
        for command in ("serve", "worker"):
            running = workloads_running(script, command)
            assert running, f"no Deployment runs `{script} {command}`"
            assert all(w["spec"]["replicas"] >= 2 for w in running), f"`{script} {command}` needs >= 2 replicas"

    def test_the_gateway_has_several_replicas_a_disruption_budget_and_an_autoscaler(self) -> None:
        (gateway,) = workloads_running("gateway", "serve")
        assert gateway["spec"]["replicas"] >= 2
        labels = pod_labels(gateway)
        budgets = [
            b for b in of_kind("PodDisruptionBudget") if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert budgets and all(b["spec"].get("minAvailable", 0) >= 1 for b in budgets)
        autoscalers = [
            h
            for h in of_kind("HorizontalPodAutoscaler")
            if h["spec"]["scaleTargetRef"]["name"] == gateway["metadata"]["name"]
        ]
        assert autoscalers and autoscalers[0]["spec"]["minReplicas"] >= 2

    @pytest.mark.parametrize("script", DEPLOYABLES)
    def test_migrations_run_before_every_process_of_a_new_version(self, script: str) -> None:
        for workload in workloads_running(script, "serve") + workloads_running(script, "worker"):
            init = [k8s_argv(c) for c in pod_spec(workload).get("initContainers", [])]
            jobs = [w for w in of_kind("Job") if any(k8s_argv(c) == [script, "migrate"] for c in containers(w))]
            assert [script, "migrate"] in init or jobs, (
                f"{workload['metadata']['name']}: nothing runs `{script} migrate`"
            )
            for container in pod_spec(workload)["containers"]:
                if runs(k8s_argv(container), script, "serve"):
                    assert parse_command(k8s_argv(container)).no_migrate, "the init container migrates"

    @pytest.mark.parametrize("script", DEPLOYABLES)
    def test_each_api_has_probes_a_port_and_a_service(self, script: str) -> None:
        (workload,) = workloads_running(script, "serve")
        (container,) = [c for c in pod_spec(workload)["containers"] if runs(k8s_argv(c), script, "serve")]
        namespace = parse_command(k8s_argv(container))
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert namespace.port == PORTS[script] and namespace.port in ports.values()

        def probe_port(probe: dict[str, Any]) -> int:
            port = probe["httpGet"]["port"]
            return int(ports[port] if isinstance(port, str) else port)

        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert probe_port(container["readinessProbe"]) == probe_port(container["livenessProbe"]) == namespace.port
        service = named("Service", script)
        assert service["spec"]["selector"].items() <= pod_labels(workload).items()
        (port,) = service["spec"]["ports"]
        target = port["targetPort"]
        assert port["port"] == PORTS[script] and (ports[target] if isinstance(target, str) else target) == PORTS[script]

    def test_the_gateway_is_scraped_on_an_internal_port_the_service_does_not_expose(self) -> None:
        (workload,) = workloads_running("gateway", "serve")
        (container,) = [c for c in pod_spec(workload)["containers"] if runs(k8s_argv(c), "gateway", "serve")]
        namespace = parse_command(k8s_argv(container))
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert int(annotations["prometheus.io/port"]) == namespace.metrics_port != namespace.port
        assert namespace.metrics_port in {p["containerPort"] for p in container["ports"]}
        exposed = {p["port"] for p in named("Service", "gateway")["spec"]["ports"]}
        assert namespace.metrics_port not in exposed, "the public door serves no metrics"

    def test_every_container_has_resource_requests_and_limits(self) -> None:
        for where, container in all_containers():
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{where}: resources.{bound}"

    def test_kafka_runs_in_kraft_mode_and_postgres_creates_every_database(self) -> None:
        (kafka,) = [
            c for _, c in all_containers() if image_repository(c["image"]) == "apache/kafka" and not c.get("command")
        ]
        environment = {v["name"]: v.get("value", "") for v in kafka["env"]}
        assert set(environment["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
        assert not any("ZOOKEEPER" in variable for variable in environment)
        (script,) = named("ConfigMap", "postgres-init")["data"].values()
        assert script == INIT_SQL.read_text(), (
            "deploy/k8s/backing/postgres.yaml repeats deploy/postgres/init-databases.sql"
        )


class TestSecrets:
    def test_secret_settings_come_only_from_secrets(self) -> None:
        for where, container in our_containers():
            script = k8s_argv(container)[0]
            for variable, (kind, value) in k8s_environment(container).items():
                if is_secret_setting(script, variable) or ("://" in value and urlsplit(value).password):
                    assert kind == "Secret", f"{where}: {variable} comes from a {kind}, not a Secret"
        for where, container in all_containers():
            for variable in container.get("env", []):
                if SECRET_LIKE_NAME.search(variable["name"]):
                    assert "valueFrom" in variable, f"{where}: {variable['name']} is written in the manifest"

    def test_every_secret_in_the_manifests_is_a_placeholder(self) -> None:
        secrets = of_kind("Secret")
        assert secrets, "deploy/ has the Secret template"
        for secret in secrets:
            for key, value in config_data("Secret", secret["metadata"]["name"]).items():
                assert PLACEHOLDER_MARK in value, f"Secret {secret['metadata']['name']}: {key} is not a placeholder"
                if "://" not in value:
                    assert is_placeholder(value), f"{key}: the services must refuse it outside dev"

    def test_applicant_and_notify_share_one_contact_keyring(self) -> None:
        for script in ("applicant", "notify"):
            assert "contact_keys" in secret_fields(settings_class(script)), script
        in_compose = {
            compose_environment(s)[f"{compose_argv(s)[0].upper()}_CONTACT_KEYS"]
            for s in our_compose_services().values()
            if compose_argv(s)[0] in {"applicant", "notify"}
        }
        assert len(in_compose) == 1, f"one compose variable feeds both: {in_compose}"
        in_k8s = set()
        for _, container in our_containers():
            script = k8s_argv(container)[0]
            for variable in container.get("env", []):
                if script in {"applicant", "notify"} and variable["name"] == f"{script.upper()}_CONTACT_KEYS":
                    ref = variable["valueFrom"]["secretKeyRef"]
                    in_k8s.add((ref["name"], ref["key"]))
        assert len(in_k8s) == 1, f"one Secret key feeds both: {in_k8s}"

    @pytest.mark.parametrize("script", ["applicant", "notify", "gateway"])
    def test_the_secret_template_as_shipped_is_refused_outside_dev(self, script: str) -> None:
        assert secret_fields(settings_class(script)), f"{script} has secret settings"
        (workload,) = workloads_running(script, "serve")
        (container,) = [c for c in pod_spec(workload)["containers"] if runs(k8s_argv(c), script, "serve")]
        environment = {name: value for name, (_, value) in k8s_environment(container).items()}
        with pytest.raises(ValidationError, match="placeholder"):
            load_settings(script, environment)


# --- the event bus (issue 15): SASL_SSL, one SCRAM user per service, ACLs from the contracts ---------------


def bus_grants() -> set[tuple[str, str, str, str, str]]:
    """Every `allow principal operation resource-type name [pattern]` line of deploy/kafka/setup-bus.sh."""
    grants = set()
    for line in BUS_SETUP.read_text().splitlines():
        if line.startswith("allow "):
            principal, operation, resource, name, *pattern = shlex.split(line, comments=True)[1:]
            grants.add((principal, operation, resource, name, pattern[0] if pattern else "literal"))
    return grants


def bus_words(command: str) -> list[list[str]]:
    """The arguments of each `user` or `topic` line of the setup script."""
    lines = BUS_SETUP.read_text().splitlines()
    return [shlex.split(line, comments=True)[1:] for line in lines if line.startswith(f"{command} ")]


@cache
def consumer_groups() -> dict[str, dict[str, set[str]]]:
    """Service -> consumer group id -> the topics its handlers consume, from each service's definition."""
    groups: dict[str, dict[str, set[str]]] = {}
    with mock.patch.dict(os.environ, {"TALENT_ENV": "dev"}):
        for script in SERVICES:
            definition = importlib.import_module(f"{script}.main").definition()
            groups[script] = {
                f"{definition.name}.{suffix}": {data_type.topic for data_type in handlers}
                for suffix, handlers in definition.consumers.items()
            }
    return groups


def expected_grants(script: str) -> tuple[set[str], set[str]]:
    """(topics the service must be able to write, topics it must be able to read), from the contracts."""
    from contracts import TOPIC_OWNERS, dead_letter_topic

    owned = {topic for topic, owner in TOPIC_OWNERS.items() if owner == script}
    dead_letters = {dead_letter_topic(group) for group in consumer_groups()[script]}
    consumed = set().union(*consumer_groups()[script].values()) if consumer_groups()[script] else set()
    return owned | dead_letters, consumed


def granted(script: str, operation: str, resource: str = "topic") -> set[str]:
    return {
        name for principal, op, kind, name, _ in bus_grants() if (principal, op, kind) == (script, operation, resource)
    }


class TestEventBus:
    @pytest.mark.parametrize("script", SERVICES)
    def test_each_service_writes_exactly_its_own_topic_and_dead_letters(self, script: str) -> None:
        must_write, _ = expected_grants(script)
        assert granted(script, "Write") == must_write

    @pytest.mark.parametrize("script", SERVICES)
    def test_each_service_reads_exactly_the_topics_its_consumers_consume(self, script: str) -> None:
        _, must_read = expected_grants(script)
        assert granted(script, "Read") == must_read
        groups = {
            (name, pattern) for p, op, kind, name, pattern in bus_grants() if (p, op, kind) == (script, "Read", "group")
        }
        assert groups == ({(f"{script}.", "prefixed")} if consumer_groups()[script] else set())

    def test_no_service_may_write_a_topic_another_service_owns(self) -> None:
        from contracts import TOPIC_OWNERS

        for principal, operation, kind, name, pattern in bus_grants():
            assert pattern == "literal" or kind == "group", f"{principal}: a prefixed {kind} grant on {name}"
            assert operation in {"Read", "Write"}, f"{principal}: {operation} on {name} (only Read and Write)"
            assert kind in {"topic", "group"}, f"{principal}: a {kind} grant"
            if operation == "Write":
                owner = TOPIC_OWNERS.get(name)
                assert owner in {None, principal}, f"{principal} may write {name}, which {owner} owns"
                assert owner == principal or name.startswith(f"{principal}."), f"{principal} may write {name}"

    def test_every_service_is_a_user_and_every_topic_exists_before_the_services(self) -> None:
        users = {words[0] for words in bus_words("user")}
        assert users == {*SERVICES, "operator"}
        topics = {words[0] for words in bus_words("topic")}
        for script in SERVICES:
            must_write, must_read = expected_grants(script)
            assert must_write | must_read <= topics, f"{script}: {sorted((must_write | must_read) - topics)}"

    @pytest.mark.parametrize("where", ["compose", "k8s"])
    def test_every_service_authenticates_to_the_bus_as_itself_over_tls(self, where: str) -> None:
        for script in SERVICES:
            if where == "compose":
                environments = [
                    {k: interpolate(v) for k, v in compose_environment(s).items()}
                    for s in our_compose_services().values()
                    if compose_argv(s)[0] == script
                ]
            else:
                environments = [
                    with_stand_ins(k8s_environment(c)) for _, c in our_containers() if k8s_argv(c)[0] == script
                ]
            assert environments, f"{where}: nothing runs {script}"
            for environment in environments:
                settings = load_settings(script, environment)
                security = settings.kafka_security
                assert (security.protocol, security.username) == ("SASL_SSL", script), f"{where}: {script}"
                assert security.sasl_mechanism.startswith("SCRAM-") and security.ssl_cafile, f"{where}: {script}"
                settings.refuse_unauthenticated_bus()  # what `serve`, `worker` and `replay` check at start

    def test_compose_gives_each_service_and_the_bus_setup_the_same_password(self) -> None:
        setup = compose_services()["kafka-setup"]
        assert setup.get("network_mode") == "service:kafka", "the setup reaches the loopback-only LOCAL listener"
        assert compose_argv(setup) == ["bash", "/opt/talent/setup-bus.sh"]
        assert any(str(v).startswith("./deploy/kafka/setup-bus.sh:/opt/talent/setup-bus.sh") for v in setup["volumes"])
        setup_environment = compose_environment(setup)
        for name, service in our_compose_services().items():
            script = compose_argv(service)[0]
            if script in SERVICES:
                password = compose_environment(service)[f"{script.upper()}_KAFKA_SASL_PASSWORD"]
                assert password == setup_environment[f"KAFKA_PASSWORD_{script.upper()}"], name
                after = service.get("depends_on", {}).get("kafka-setup", {}).get("condition")
                if compose_argv(service)[1] in {"serve", "worker"}:
                    assert after == "service_completed_successfully", f"{name} starts before the bus's ACLs"

    def test_k8s_gives_each_service_and_the_bus_setup_the_same_password(self) -> None:
        (setup,) = [c for _, c in all_containers() if c["name"] == "bus-setup"]
        references = {v["name"]: v["valueFrom"]["secretKeyRef"] for v in setup["env"]}
        for script in SERVICES:
            assert references[f"KAFKA_PASSWORD_{script.upper()}"] == {
                "name": f"{script}-secrets",
                "key": f"{script.upper()}_KAFKA_SASL_PASSWORD",
            }
        (script_text,) = named("ConfigMap", "kafka-bus-setup")["data"].values()
        assert script_text == BUS_SETUP.read_text(), "deploy/k8s/backing/kafka.yaml repeats deploy/kafka/setup-bus.sh"

    @pytest.mark.parametrize("where", ["compose", "k8s"])
    def test_the_broker_is_sasl_ssl_on_the_network_and_denies_what_no_acl_allows(self, where: str) -> None:
        if where == "compose":
            environment = compose_environment(compose_services()["kafka"])
        else:
            (kafka,) = [c for _, c in all_containers() if c["name"] == "kafka"]
            environment = {v["name"]: v.get("value", "") for v in kafka["env"]}
        protocols = dict(pair.split(":", 1) for pair in environment["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
        for listener in environment["KAFKA_LISTENERS"].split(","):
            name, _, address = listener.partition("://")
            if protocols[name] != "SASL_SSL":
                assert address.startswith("127.0.0.1:"), f"{where}: {listener} is {protocols[name]} on the network"
        assert set(environment["KAFKA_SASL_ENABLED_MECHANISMS"].split(",")) <= {"SCRAM-SHA-256", "SCRAM-SHA-512"}
        assert environment["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
        assert environment["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
        assert environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        super_users = set(environment["KAFKA_SUPER_USERS"].split(";"))
        assert not super_users & {f"User:{s}" for s in SERVICES}, "no service is a super user"
