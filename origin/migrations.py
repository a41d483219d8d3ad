"""The schemas of every domain, collected explicitly for the app factory and the CLI.

Nothing migrates at import: :func:`origin.app.create_app` and the CLI commands that touch state
(``aimixer keys``, ``aimixer worker``) pass :func:`app_schemas` to
:func:`origin.storage.storage_for`, which applies the pending steps when it opens the database.
"""

from __future__ import annotations

from typing import Any

from origin.storage import Schema, Storage, storage_for

__all__ = ["app_schemas", "open_app_storage"]


def app_schemas() -> list[Schema]:
    """Every schema the origin uses, in migration order."""
    from origin.auth.apikeys import APIKEYS_SCHEMA
    from origin.auth.oidc import OIDC_SCHEMA
    from origin.jobs.store import JOBS_SCHEMA
    from origin.stats import STATS_SCHEMA
    from origin.studio.store import STUDIO_SCHEMA
    from origin.webhooks import WEBHOOKS_SCHEMA

    return [APIKEYS_SCHEMA, OIDC_SCHEMA, STATS_SCHEMA, WEBHOOKS_SCHEMA, STUDIO_SCHEMA, JOBS_SCHEMA]


def open_app_storage(settings: Any) -> Storage:
    """The storage selected by ``settings`` (``database_url`` or SQLite), opened and migrated."""
    return storage_for(settings, app_schemas())
