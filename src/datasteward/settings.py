"""Settings, declared once: name, environment variable, default and help.

This table feeds the CLI's help, docs/settings.md (a test checks every row
is documented) and :class:`Settings`. Nothing reads the environment at import
time; entry points build a :class:`Settings` and pass it down."""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SETTINGS", "Setting", "Settings"]


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: str | None
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "home",
        "STEWARD_HOME",
        "./steward-data",
        "Data directory: the SQLite engine store, the master key file, the subject key "
        "store and stored packages. `--home` on the command line wins.",
    ),
    Setting(
        "database_url",
        "STEWARD_DATABASE_URL",
        None,
        "Engine store URL, e.g. postgresql+psycopg://user@host/db. Default: "
        "sqlite:///HOME/engine.sqlite.",
    ),
    Setting(
        "keystore_url",
        "STEWARD_KEYSTORE_URL",
        None,
        "Database holding subjects' wrapped data keys, kept apart from the engine store so "
        "that engine backups never contain them. Default: sqlite:///HOME/keys.sqlite.",
    ),
    Setting(
        "secret_key",
        "STEWARD_SECRET_KEY",
        None,
        "Master key (URL-safe base64 of 32 bytes). Default: the key file HOME/master.key "
        "that `steward init` creates with mode 0600.",
    ),
    Setting(
        "actor",
        "STEWARD_ACTOR",
        None,
        "Who the audit log names for command-line actions. Default: cli:<login name>.",
    ),
    Setting(
        "queue_url",
        "STEWARD_QUEUE_URL",
        None,
        "Job queue: redis://host:port/db to share work between any number of `steward "
        "worker` processes. Default: huey's SQLite queue in HOME/queue.sqlite.",
    ),
    Setting(
        "smtp_url",
        "STEWARD_SMTP_URL",
        None,
        "Outgoing mail server, smtp://[user:password@]host:port (smtps:// for TLS, "
        "?starttls=1 for STARTTLS). Unset: emails wait in the outbox.",
    ),
    Setting(
        "mail_from",
        "STEWARD_MAIL_FROM",
        None,
        "Sender address of emails to data subjects and recipients. Default: the "
        "controller's email from the active policy.",
    ),
    Setting(
        "public_url",
        "STEWARD_PUBLIC_URL",
        "http://127.0.0.1:8000",
        "Base address of the privacy center, used in links sent to people (downloads, "
        "verification).",
    ),
    Setting(
        "webhook_secret",
        "STEWARD_WEBHOOK_SECRET",
        None,
        "Key that signs webhooks to recipients (HMAC-SHA256 in X-Steward-Signature). "
        "Default: derived from the master key.",
    ),
)


@dataclass(frozen=True)
class Settings:
    """Resolved settings for one process."""

    home: Path
    database_url: str
    keystore_url: str
    actor: str
    env: Mapping[str, str]
    queue_url: str | None = None
    smtp_url: str | None = None
    mail_from: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    webhook_secret: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, home: Path | None = None) -> Settings:
        chosen = home or Path(env.get("STEWARD_HOME") or "./steward-data")
        chosen = chosen.expanduser().absolute()
        database = env.get("STEWARD_DATABASE_URL") or f"sqlite:///{chosen / 'engine.sqlite'}"
        keystore = env.get("STEWARD_KEYSTORE_URL") or f"sqlite:///{chosen / 'keys.sqlite'}"
        actor = env.get("STEWARD_ACTOR") or f"cli:{_login()}"
        return cls(
            home=chosen,
            database_url=database,
            keystore_url=keystore,
            actor=actor,
            env=env,
            queue_url=env.get("STEWARD_QUEUE_URL") or None,
            smtp_url=env.get("STEWARD_SMTP_URL") or None,
            mail_from=env.get("STEWARD_MAIL_FROM") or None,
            public_url=(env.get("STEWARD_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/"),
            webhook_secret=env.get("STEWARD_WEBHOOK_SECRET") or None,
        )

    @property
    def key_file(self) -> Path:
        return self.home / "master.key"

    @property
    def packages_dir(self) -> Path:
        return self.home / "packages"


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
