"""Settings from the environment: the only module that reads ``os.environ``.

- `AITO_REPO`: the governance repo (holds org/ and profiles/); default: the current directory
- `AITO_DATA_DIR`: where embedded services keep their data; default `<repo>/.aito`
- `POSTGRES_URL`: use this Postgres (with the pgvector extension) instead of the embedded one
- `REDIS_URL`: use this Redis instead of the embedded one
- `GITHUB_RUN_ID`: set by GitHub Actions; names a wake-up so a re-run is recognised
  (ignored under act, where `ACT` is set and every run is number 1)
- `AITO_FORGE`: `local` (default: the governance repo is a local git repo, PRs stored
  beside it in `.aito/forge/`) or `github` (the governance repo on GitHub)
- `AITO_GITHUB_API_URL`: the GitHub REST API (default `https://api.github.com`)
- `AITO_GITHUB_TOKEN`: the token that tallies (labels, statuses, comments, merges)
- `AITO_GITHUB_ADMIN_TOKEN`: a maintainer's token that may read the org's settings
  (`gh auth token`), for `aito github doctor` and `aito github apps record` only
- `AITO_EMBEDDINGS`: `offline` (default: a pretrained model shipped in a PyPI package, on
  the CPU) or `http` (an OpenAI-compatible `/embeddings` endpoint)
- `AITO_EMBEDDINGS_URL`, `AITO_EMBEDDINGS_MODEL`, `AITO_EMBEDDINGS_API_KEY`: that endpoint
- `AITO_MODEL`: `auto` (default: Anthropic when `ANTHROPIC_API_KEY` is set, else the
  offline model), `anthropic` or `offline` (the deterministic, rule-driven stand-in)
- `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`: the Anthropic Messages API and its key
- `AITO_GITHUB_TOKEN_<AGENT>`: each agent's bot token (e.g. `AITO_GITHUB_TOKEN_CMO`);
  reviews and pull requests are made with it, so votes come from the right account
- `AITO_APP_ID_<AGENT>` (a repository variable) and `AITO_APP_KEY_<AGENT>` (a repository
  secret: the App's PEM private key): the agent's GitHub App. AITO mints the App's
  installation tokens itself; when an App and a static token are both set, the App wins.
  `<AGENT>` is the agent id upper-cased with `-` as `_` (:func:`agent_env_suffix`)
- `AITO_GOVERNANCE_APP_ID`, `AITO_GOVERNANCE_APP_KEY`: the governance App (the tally's
  statuses, labels, comments, merges), kept in the `governance` deployment environment;
  it wins over `AITO_GITHUB_TOKEN`
- `GITHUB_ACTIONS`: set to `true` by GitHub Actions (and act). Then AITO is **strict**: it
  refuses every silent fallback (the offline model, the local forge, embedded Postgres
  or Redis in the runner's workspace) and says which secret or variable is missing
- `AITO_ALLOW_OFFLINE`: `1` allows those fallbacks under `GITHUB_ACTIONS=true` (what the
  README's act commands and the tests set)
- `AITO_DRY_RUN`: `1`: runs write nothing to the world (each MCP write is recorded only)
- `AITO_RUNTIME`: where a wake-up runs: `inprocess` (default: right here) or `docker` (what
  the rendered workflows use on runners: `aito agent run` becomes a launcher that starts the
  run in a container of `AITO_IMAGE` and serves its model calls; see :mod:`aito.runtime`)
- `AITO_IMAGE`: the AITO image containers run (default `aito:latest`, built by
  `runner/build-image`)
- `AITO_AGENT_NETWORK`: the Docker network of agent containers: `host` (default: they reach
  the Postgres, Redis and GitHub the launcher reaches, at the same addresses) or a network
  name; workers always get none
- `AITO_MODEL_GATEWAY`: inside a container, the launcher's model gateway (a Unix socket); the
  model key stays with the launcher, which reserves and settles every call's budget
- `AITO_NOW`: an ISO time the run takes as "now" throughout: how `aito demo --runtime docker`
  hands its simulated clock to the runs in containers. Never set it on a runner
- `AITO_SMTP_URL`: the SMTP server for `notify:` channels of kind `email`:
  `smtp://user:password@host:port` (plain, e.g. a relay on localhost),
  `smtp+starttls://…` (upgraded with STARTTLS, usually port 587) or `smtps://…` (TLS from
  the start, usually 465); user and password are optional, percent-encoded
- `AITO_WEBHOOK_URL`: where `notify:` channels of kind `webhook` POST their JSON (e.g. a
  Slack incoming webhook); a secret, since such URLs carry their token
- `AITO_TELEGRAM_BOT_TOKEN`: the bot that sends for `notify:` channels of kind `telegram`
- `AITO_TELEGRAM_API_URL`: Telegram's Bot API (default `https://api.telegram.org`)

The notification secrets live on the host that runs `aito orchestrator` (e.g.
`runner/.env`), not in GitHub: the orchestrator is not an Actions job.

One explicit function reads them, rather than `pydantic-settings`: the rules that
matter here (`AITO_MODEL=auto` choosing by whether a key is set, a repo-relative data
directory, the `AITO_GITHUB_TOKEN_<AGENT>` prefix, ignoring `GITHUB_RUN_ID` under act)
would be validators and custom sources there, and it would be one more dependency.

Strict mode's refusals are :meth:`Settings.live_problems` (names only, never values);
bootstrap raises them where each fallback would be taken.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

from aito.errors import ConfigError


class GitHubApp(BaseModel):
    """A GitHub App's id and private key, and the variable and secret they come from.

    Either may be missing (the other was set): :meth:`problem` names what to add."""

    model_config = ConfigDict(frozen=True)

    app_id: int | None
    private_key: SecretStr | None
    id_name: str
    key_name: str

    def problem(self) -> str | None:
        if self.app_id is None:
            return f"{self.id_name} (repository variable: the App's numeric id) is not set"
        if self.private_key is None:
            return f"{self.key_name} (repository secret: the App's private key) is not set"
        return None


class Settings(BaseModel):
    """Where the organization lives and which services AITO talks to."""

    model_config = ConfigDict(frozen=True)

    repo: Path
    data_dir: Path
    postgres_url: SecretStr | None = None
    redis_url: SecretStr | None = None
    github_run_id: str | None = None
    forge: str = "local"
    github_api_url: str = "https://api.github.com"
    github_token: SecretStr | None = None
    github_admin_token: SecretStr | None = None
    github_agent_tokens: dict[str, SecretStr] = {}
    embeddings: str = "offline"
    embeddings_url: str | None = None
    embeddings_model: str | None = None
    embeddings_api_key: SecretStr | None = None
    model_provider: str = "offline"
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    github_apps: dict[str, GitHubApp] = {}  # by agent id
    governance_app: GitHubApp | None = None
    github_actions: bool = False
    allow_offline: bool = False
    dry_run: bool = False
    runtime: str = "inprocess"
    image: str = "aito:latest"
    agent_network: str = "host"
    model_gateway: Path | None = None
    fixed_now: dt.datetime | None = None
    smtp_url: SecretStr | None = None
    webhook_url: SecretStr | None = None
    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"

    @property
    def strict(self) -> bool:
        """Under GitHub Actions without `AITO_ALLOW_OFFLINE=1`: no silent fallback."""
        return self.github_actions and not self.allow_offline

    def live_problems(
        self, *, model: bool = False, forge: bool = False, services: bool = False
    ) -> list[str]:
        """What strict mode misses for the parts a command uses (empty when not strict)."""
        if not self.strict:
            return []
        found: list[str] = []
        if model and self.model_provider != "anthropic" and self.model_gateway is None:
            found.append(
                "ANTHROPIC_API_KEY (repository secret) is not set"
                if self.anthropic_api_key is None
                else "AITO_MODEL=offline asks for the offline model"
            )
        if forge and self.forge != "github":
            found.append("AITO_FORGE (repository variable) is `local`, not `github`")
        if services and self.postgres_url is None:
            found.append("AITO_POSTGRES_URL (repository secret, read as POSTGRES_URL) is not set")
        if services and self.redis_url is None:
            found.append("AITO_REDIS_URL (repository secret, read as REDIS_URL) is not set")
        return found

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, repo: Path | None = None
    ) -> Settings:
        """Build settings from ``env`` (default: the process environment).

        ``repo`` (e.g. the CLI's ``--repo``) wins over ``AITO_REPO``.
        """
        source = os.environ if env is None else env
        for name in ("AITO_REPO", "AITO_DATA_DIR"):
            if any(ord(c) < 32 or c == "\x7f" for c in source.get(name, "")):
                raise ConfigError(f"{name} contains a control character (a line break?)")
        chosen_repo = repo or Path(source.get("AITO_REPO") or Path.cwd())
        chosen_repo = chosen_repo.expanduser().resolve()
        if chosen_repo.exists() and not chosen_repo.is_dir():
            raise ConfigError(
                f"AITO_REPO {_quoted(str(chosen_repo))} is a file; point it (or --repo) at the "
                "governance repo's directory"
            )
        data_dir = Path(source.get("AITO_DATA_DIR") or chosen_repo / ".aito").expanduser()
        return cls(
            repo=chosen_repo,
            data_dir=data_dir.resolve(),
            postgres_url=_secret(_url("POSTGRES_URL", source, POSTGRES_SCHEMES)),
            redis_url=_secret(_url("REDIS_URL", source, REDIS_SCHEMES)),
            github_run_id=None if source.get("ACT") else _run_id(source.get("GITHUB_RUN_ID")),
            forge=_choice("AITO_FORGE", source.get("AITO_FORGE"), ("local", "github")),
            embeddings=_choice(
                "AITO_EMBEDDINGS", source.get("AITO_EMBEDDINGS"), ("offline", "http")
            ),
            embeddings_url=source.get("AITO_EMBEDDINGS_URL") or None,
            embeddings_model=source.get("AITO_EMBEDDINGS_MODEL") or None,
            embeddings_api_key=_secret(source.get("AITO_EMBEDDINGS_API_KEY")),
            github_api_url=source.get("AITO_GITHUB_API_URL") or "https://api.github.com",
            github_token=_secret(source.get("AITO_GITHUB_TOKEN")),
            github_admin_token=_secret(source.get("AITO_GITHUB_ADMIN_TOKEN")),
            model_provider=_model_provider(source, gateway=bool(source.get("AITO_MODEL_GATEWAY"))),
            anthropic_api_key=_secret(source.get("ANTHROPIC_API_KEY")),
            anthropic_base_url=source.get("ANTHROPIC_BASE_URL") or None,
            github_agent_tokens={
                _agent_id(name.removeprefix(_AGENT_TOKEN)): SecretStr(value)
                for name, value in source.items()
                if name.startswith(_AGENT_TOKEN) and value
            },
            github_apps=_agent_apps(source),
            governance_app=_app(source, GOVERNANCE_APP_ID, GOVERNANCE_APP_KEY),
            github_actions=source.get("GITHUB_ACTIONS", "").strip().lower() == "true",
            allow_offline=_flag("AITO_ALLOW_OFFLINE", source.get("AITO_ALLOW_OFFLINE")),
            dry_run=_flag("AITO_DRY_RUN", source.get("AITO_DRY_RUN")),
            runtime=_choice("AITO_RUNTIME", source.get("AITO_RUNTIME"), ("inprocess", "docker")),
            image=source.get("AITO_IMAGE") or "aito:latest",
            agent_network=source.get("AITO_AGENT_NETWORK") or "host",
            model_gateway=Path(source["AITO_MODEL_GATEWAY"])
            if source.get("AITO_MODEL_GATEWAY")
            else None,
            fixed_now=_moment("AITO_NOW", source.get("AITO_NOW")),
            smtp_url=_secret(_url("AITO_SMTP_URL", source, SMTP_SCHEMES)),
            webhook_url=_secret(_url("AITO_WEBHOOK_URL", source, HTTP_SCHEMES)),
            telegram_bot_token=_secret(_token("AITO_TELEGRAM_BOT_TOKEN", source)),
            telegram_api_url=_url("AITO_TELEGRAM_API_URL", source, HTTP_SCHEMES)
            or "https://api.telegram.org",
        )


def agent_env_suffix(agent_id: str) -> str:
    """``<AGENT>`` in the per-agent names: ``cmo`` → ``CMO``, ``ops-lead`` → ``OPS_LEAD``."""
    return agent_id.upper().replace("-", "_")


def agent_app_names(agent_id: str) -> tuple[str, str, str]:
    """The App id variable, App key secret and static token secret of an agent."""
    suffix = agent_env_suffix(agent_id)
    return f"{APP_ID}{suffix}", f"{APP_KEY}{suffix}", f"{_AGENT_TOKEN}{suffix}"


APP_ID = "AITO_APP_ID_"
APP_KEY = "AITO_APP_KEY_"
GOVERNANCE_APP_ID = "AITO_GOVERNANCE_APP_ID"
GOVERNANCE_APP_KEY = "AITO_GOVERNANCE_APP_KEY"


def _agent_id(suffix: str) -> str:
    return suffix.lower().replace("_", "-")


def _agent_apps(source: Mapping[str, str]) -> dict[str, GitHubApp]:
    suffixes = {
        name.removeprefix(prefix)
        for name, value in source.items()
        for prefix in (APP_ID, APP_KEY)
        if name.startswith(prefix) and value.strip()
    }
    apps = {_agent_id(s): _app(source, APP_ID + s, APP_KEY + s) for s in sorted(suffixes)}
    return {agent: app for agent, app in apps.items() if app is not None}


def _app(source: Mapping[str, str], id_name: str, key_name: str) -> GitHubApp | None:
    """The App in ``id_name``/``key_name``; None when neither is set. The id must be a
    number (a key is never echoed)."""
    raw_id, key = source.get(id_name, "").strip(), source.get(key_name, "").strip()
    if not raw_id and not key:
        return None
    if raw_id and not raw_id.isdigit():
        raise ConfigError(
            f"{id_name} must be the App's numeric id (its settings page: App ID), "
            f"not {_quoted(raw_id, 20)}"
        )
    return GitHubApp(
        app_id=int(raw_id) if raw_id else None,
        private_key=_secret(key),
        id_name=id_name,
        key_name=key_name,
    )


def _flag(name: str, value: str | None) -> bool:
    text = (value or "").strip().lower()
    if text in ("", "0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise ConfigError(f"{name}={_quoted(text, 20)}: use 1 (allow) or 0")


_AGENT_TOKEN = "AITO_GITHUB_TOKEN_"  # noqa: S105 - an env var prefix, not a secret


def _model_provider(source: Mapping[str, str], *, gateway: bool = False) -> str:
    """The provider that answers; behind a model gateway (in a container) the key is the
    launcher's, so `AITO_MODEL` alone names it."""
    chosen = _choice("AITO_MODEL", source.get("AITO_MODEL"), ("auto", "anthropic", "offline"))
    if chosen == "auto":
        return "anthropic" if source.get("ANTHROPIC_API_KEY") else "offline"
    if chosen == "anthropic" and not source.get("ANTHROPIC_API_KEY") and not gateway:
        raise ConfigError(
            "AITO_MODEL=anthropic needs ANTHROPIC_API_KEY (or use AITO_MODEL=offline)"
        )
    return chosen


def _moment(name: str, value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        found = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"{name}={value!r}: use an ISO time, e.g. 2026-03-02T09:00:00+00:00"
        ) from None
    if found.tzinfo is None:
        raise ConfigError(f"{name}={value!r}: give the time zone (e.g. +00:00)")
    return found


def _choice(name: str, value: str | None, options: tuple[str, ...]) -> str:
    chosen = (value or options[0]).strip().lower()
    if chosen not in options:
        raise ConfigError(f"{name}={value!r}: use one of {', '.join(options)}")
    return chosen


def _secret(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value else None


POSTGRES_SCHEMES = ("postgresql", "postgres")
REDIS_SCHEMES = ("redis", "rediss", "unix")
SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")
HTTP_SCHEMES = ("https", "http")


def _url(name: str, source: Mapping[str, str], schemes: tuple[str, ...]) -> str | None:
    """The URL in ``name``, if it can be a URL of one of ``schemes`` (a ConfigError, not a
    driver's traceback, when it cannot; Postgres also takes libpq's ``key=value`` form).
    The value is never echoed: it may hold a password."""
    value = source.get(name)
    if not value:
        return None
    example = (
        f"{schemes[0]}://host/path"
        if schemes is HTTP_SCHEMES
        else f"{schemes[0]}://user:password@host:port/…"
    )
    if schemes is POSTGRES_SCHEMES and "://" not in value and "=" in value:
        return value.strip()  # libpq's key=value form; the adapter parses it
    try:
        parts = urllib.parse.urlsplit(value.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        # Not the parser's words: they quote what it took for the port, which may be a
        # piece of the password (one holding `/`, `?` or `#` unescaped).
        raise ConfigError(
            f"{name} is not a usable URL (its host or port cannot be read; percent-encode "
            f"`/`, `?`, `#` and `@` in the password); write e.g. {example}"
        ) from None
    if parts.scheme.lower() not in schemes:
        shown = f"{parts.scheme!r}"[:20] if parts.scheme else "no scheme"
        raise ConfigError(
            f"{name} has {shown}: use a {' or '.join(s + '://' for s in schemes)} URL, "
            f"e.g. {example}"
        )
    if schemes is REDIS_SCHEMES and parts.scheme.lower() != "unix":
        database = parts.path.strip("/")
        if database and not database.isdigit():
            raise ConfigError(f"{name}: the database after the host must be a number, e.g. /0")
    return value.strip()


def _token(name: str, source: Mapping[str, str]) -> str | None:
    """A token that goes into a URL path: one line of printable ASCII without `/`, `?` or
    `#` (the value is never echoed)."""
    value = (source.get(name) or "").strip()
    if value and (not re.fullmatch(r"[\x21-\x7e]+", value) or any(c in "/?#" for c in value)):
        raise ConfigError(
            f"{name} is not a bot token (one line of letters, digits and `:`, as @BotFather "
            "gives it)"
        )
    return value or None


_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _run_id(value: str | None) -> str | None:
    """GitHub's run id (a number); anything that could not name a wake-up is refused."""
    if not value:
        return None
    if not _RUN_ID.fullmatch(value):
        raise ConfigError(
            f"GITHUB_RUN_ID {_quoted(value)} is not a run id (letters, digits, . _ -; "
            "GitHub Actions sets a number)"
        )
    return value


def _quoted(value: str, limit: int = 60) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "…")
