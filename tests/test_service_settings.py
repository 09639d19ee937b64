"""Facts and secrets: sources, precedence, one-line errors, never a secret's value."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from opsplane.errors import SettingsError
from opsplane.runtime.lifecycle import State
from opsplane.runtime.settings import Settings, load_settings
from opsplane.spec.service import ServiceSpec
from tests._service_procs import Service, wait_for

VALUE = "s3cr3t-token-9d1e"


class AppSettings(Settings):
    region: str
    replicas: int = 2
    api_token: SecretStr
    webhook: SecretStr | None = None


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    config, secrets = tmp_path / "config", tmp_path / "secrets"
    config.mkdir()
    secrets.mkdir()
    for name in ("REGION", "REPLICAS", "API_TOKEN", "API_TOKEN_FILE", "WEBHOOK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPSPLANE_CONFIG_DIR", str(config))
    monkeypatch.setenv("OPSPLANE_SECRETS_DIR", str(secrets))
    return config, secrets


def test_facts_from_configmap_secrets_from_mounted_files(dirs: tuple[Path, Path]) -> None:
    config, secrets = dirs
    (config / "region").write_text("eu-west-1\n")
    (config / "replicas").write_text("3")
    (secrets / "api_token").write_text(VALUE + "\n")
    s = load_settings(AppSettings)
    assert s.region == "eu-west-1"
    assert s.replicas == 3
    assert s.api_token.get_secret_value() == VALUE
    assert s.webhook is None
    assert VALUE not in repr(s)
    assert VALUE not in str(s)
    assert s.facts() == {"region": "eu-west-1", "replicas": 3}


def test_environment_wins_and_file_env_reference(dirs: tuple[Path, Path], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    config, secrets = dirs
    (config / "region").write_text("eu-west-1")
    (secrets / "api_token").write_text("from-volume")
    vault = tmp_path / "vault-agent-token"
    vault.write_text(VALUE)
    monkeypatch.setenv("REGION", "us-east-2")
    monkeypatch.setenv("API_TOKEN_FILE", str(vault))
    s = load_settings(AppSettings)
    assert s.region == "us-east-2"
    assert s.api_token.get_secret_value() == VALUE
    monkeypatch.setenv("API_TOKEN", "from-env")
    assert load_settings(AppSettings).api_token.get_secret_value() == "from-env"


def test_a_secret_is_never_read_from_the_configmap(dirs: tuple[Path, Path]) -> None:
    config, secrets = dirs
    (config / "region").write_text("eu")
    (config / "api_token").write_text(VALUE)  # a secret in a ConfigMap does not count
    with pytest.raises(SettingsError) as e:
        load_settings(AppSettings)
    assert str(e.value) == (f"missing required secret api_token: set API_TOKEN or "
                            f"API_TOKEN_FILE, or mount a file api_token in {secrets}")


def test_missing_fact_names_it(dirs: tuple[Path, Path]) -> None:
    config, secrets = dirs
    (secrets / "api_token").write_text(VALUE)
    with pytest.raises(SettingsError) as e:
        load_settings(AppSettings)
    assert str(e.value) == f"missing required setting region: set REGION or put a file " \
                           f"region in {config}"


def test_invalid_value_error_names_field_not_value(dirs: tuple[Path, Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGION", "eu")
    monkeypatch.setenv("REPLICAS", "many-" + VALUE)
    monkeypatch.setenv("API_TOKEN", VALUE)
    with pytest.raises(SettingsError) as e:
        load_settings(AppSettings)
    assert str(e.value).startswith("setting replicas: Input should be a valid integer")
    assert VALUE not in str(e.value)


def test_unreadable_file_reference(dirs: tuple[Path, Path], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGION", "eu")
    monkeypatch.setenv("API_TOKEN_FILE", str(tmp_path / "absent"))
    with pytest.raises(SettingsError, match=r"secret api_token: API_TOKEN_FILE names .*absent, "
                                            r"which cannot be read"):
        load_settings(AppSettings)


def test_failed_settings_fail_startup_and_readiness(dirs: tuple[Path, Path]) -> None:
    from starlette.applications import Starlette

    import opsplane

    state = State()
    app = opsplane.instrument(Starlette(), ServiceSpec(name="svc", team="t", app="m:app"),
                              state, settings=AppSettings, configure_logging=False)
    error = asyncio.run(app.startup())
    assert error is not None
    assert error.startswith("missing required setting region")
    assert state.startup_error == error
    code, body = asyncio.run(app.health.readiness())
    assert code == 503
    assert body["checks"]["startup:finished"][0]["output"] == error
    assert body["checks"]["config:loaded"][0]["status"] == "fail"


APP = '''
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import opsplane
from opsplane.runtime.settings import Settings
from opsplane.spec.service import ServiceSpec


class S(Settings):
    region: str
    api_token: SecretStr


async def hello(request):
    return PlainTextResponse("hello")


app = opsplane.instrument(Starlette(routes=[Route("/hello", hello)]),
                          ServiceSpec(name="needs-secret", team="t", app="needs_secret:app"),
                          settings=S)
'''


def test_missing_secret_under_uvicorn(tmp_path: Path) -> None:
    (tmp_path / "needs_secret.py").write_text(APP)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    env = {"REGION": "eu", "OPSPLANE_SECRETS_DIR": str(secrets),
           "OPSPLANE_CONFIG_DIR": str(tmp_path / "config")}
    svc = Service("needs_secret:app", tmp_path, tmp_path, env=env)
    svc.start(wait=False)
    try:
        readiness = []

        def exited() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                readiness.append(httpx.get(f"{svc.url}/healthz/readiness", timeout=1).status_code)
            assert svc.proc is not None
            return svc.proc.poll() is not None

        wait_for(exited, attempts=600, pause=0.1)
        assert svc.proc is not None
        assert svc.proc.returncode != 0
        assert 200 not in readiness
        line = (f"missing required secret api_token: set API_TOKEN or API_TOKEN_FILE, "
                f"or mount a file api_token in {secrets}")
        assert line in svc.output()
        assert "Traceback" not in svc.output()

        (secrets / "api_token").write_text(VALUE)
        svc.start()
        ready = wait_for(lambda: (r := httpx.get(f"{svc.url}/healthz/readiness")).status_code
                         == 200 and r)
        assert VALUE not in ready.text
        assert httpx.get(f"{svc.url}/hello").text == "hello"
    finally:
        svc.stop()
    assert VALUE not in svc.all_output()
