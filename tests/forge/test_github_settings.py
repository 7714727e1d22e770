"""The GitHub settings: each App's id and key by agent, the governance App, strict mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from aito.errors import ConfigError
from aito.settings import Settings, agent_app_names

KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIE…\n-----END RSA PRIVATE KEY-----\n"


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(env, repo=tmp_path)


def test_each_agents_app_is_read_by_its_id_and_a_dash_is_an_underscore(tmp_path: Path) -> None:
    assert agent_app_names("ops-lead") == (
        "AITO_APP_ID_OPS_LEAD",
        "AITO_APP_KEY_OPS_LEAD",
        "AITO_GITHUB_TOKEN_OPS_LEAD",
    )
    found = settings(
        tmp_path,
        AITO_APP_ID_OPS_LEAD="123",
        AITO_APP_KEY_OPS_LEAD=KEY,
        AITO_APP_ID_CMO="456",  # its key is missing: named when the App is used
        AITO_GOVERNANCE_APP_ID="789",
        AITO_GOVERNANCE_APP_KEY=KEY,
    )
    lead, cmo = found.github_apps["ops-lead"], found.github_apps["cmo"]
    assert (lead.app_id, lead.problem()) == (123, None)
    assert cmo.problem() == (
        "AITO_APP_KEY_CMO (repository secret: the App's private key) is not set"
    )
    assert found.governance_app is not None and found.governance_app.app_id == 789
    assert KEY not in repr(found) and KEY not in str(found.model_dump())


def test_an_app_id_that_is_not_a_number_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="AITO_APP_ID_CMO must be the App's numeric id"):
        settings(tmp_path, AITO_APP_ID_CMO="shiba-cmo", AITO_APP_KEY_CMO=KEY)


def test_strict_only_under_github_actions_and_the_switch_turns_it_off(tmp_path: Path) -> None:
    assert not settings(tmp_path).strict
    strict = settings(tmp_path, GITHUB_ACTIONS="true")
    assert strict.strict
    assert strict.live_problems(model=True, forge=True, services=True) == [
        "ANTHROPIC_API_KEY (repository secret) is not set",
        "AITO_FORGE (repository variable) is `local`, not `github`",
        "AITO_POSTGRES_URL (repository secret, read as POSTGRES_URL) is not set",
        "AITO_REDIS_URL (repository secret, read as REDIS_URL) is not set",
    ]
    assert strict.live_problems(forge=True) == [
        "AITO_FORGE (repository variable) is `local`, not `github`"
    ]
    allowed = settings(tmp_path, GITHUB_ACTIONS="true", AITO_ALLOW_OFFLINE="1")
    assert not allowed.strict and allowed.live_problems(model=True, services=True) == []
    with pytest.raises(ConfigError, match="AITO_ALLOW_OFFLINE"):
        settings(tmp_path, AITO_ALLOW_OFFLINE="maybe")
