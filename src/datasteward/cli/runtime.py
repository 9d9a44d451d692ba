"""The composition root for command-line use: settings in, wired services out.

Built lazily per command, so commands that need only a policy file never
touch (or even import) the store or the keys."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from datasteward.clock import Clock, SystemClock
from datasteward.errors import StoreError
from datasteward.settings import Settings

if TYPE_CHECKING:  # the store and crypto stacks load only for commands that use them
    from datasteward.consent.service import ConsentLedger
    from datasteward.crypto import Keyring
    from datasteward.store.keystore import SqlKeyStore
    from datasteward.store.sql_store import SqlEngineStore
    from datasteward.subjects.service import SubjectDirectory

__all__ = ["Runtime", "runtime"]


@dataclass
class Runtime:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)

    @cached_property
    def engine(self) -> SqlEngineStore:
        from datasteward.store import migrate
        from datasteward.store.engine import make_engine
        from datasteward.store.sql_store import SqlEngineStore

        engine = make_engine(self.settings.database_url)
        try:
            current = migrate.current_revision(engine)
        except Exception as exc:
            raise StoreError(
                f"cannot open the engine store ({type(exc).__name__}): run `steward init` "
                "to create it, or check --home and STEWARD_DATABASE_URL"
            ) from None
        if current != migrate.head_revision():
            raise StoreError(
                "the engine store is not initialised or not migrated: run `steward init`"
            )
        return SqlEngineStore(engine)

    @cached_property
    def keystore(self) -> SqlKeyStore:
        from datasteward.store.engine import make_engine
        from datasteward.store.keystore import SqlKeyStore

        return SqlKeyStore(make_engine(self.settings.keystore_url, secure_delete=True))

    @cached_property
    def keyring(self) -> Keyring:
        from datasteward.crypto import load_keyring

        return load_keyring(env=self.settings.env, key_file=self.settings.key_file)

    @cached_property
    def directory(self) -> SubjectDirectory:
        from datasteward.subjects.service import SubjectDirectory

        return SubjectDirectory(self.keyring, self.keystore, self.clock)

    @cached_property
    def ledger(self) -> ConsentLedger:
        from datasteward.consent.service import ConsentLedger

        return ConsentLedger(self.engine, self.directory, self.clock)


def runtime(ctx: typer.Context) -> Runtime:
    """The runtime for this invocation (``--home`` comes from the main callback)."""
    home: Path | None = (ctx.find_root().obj or {}).get("home")
    obj = ctx.find_root().obj
    if isinstance(obj, dict) and "runtime" in obj:
        cached = obj["runtime"]
        assert isinstance(cached, Runtime)
        return cached
    built = Runtime(Settings.from_env(dict(os.environ), home=home))
    if isinstance(obj, dict):
        obj["runtime"] = built
    return built
