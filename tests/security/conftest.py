"""Fixtures of the security probes (helpers in :mod:`prodserver`).

prod_server (session scope)
    A production-mode ``aimixer serve`` process shared by the probes (see :mod:`prodserver`),
    trusting a local OIDC provider, with level messages at 50 Hz.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prodserver import ProdServer, make_keys, start_server


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[Any]:
    from oidc_provider import LocalOIDCProvider

    with LocalOIDCProvider() as p:
        yield p


@pytest.fixture(scope="session")
def prod_server(tmp_path_factory: pytest.TempPathFactory, oidc_provider: Any) -> Iterator[ProdServer]:
    data_dir = tmp_path_factory.mktemp("secdata")
    keys, ids = make_keys(data_dir)
    srv = start_server(
        data_dir,
        AIMIXER_OIDC_ISSUER=oidc_provider.issuer,
        AIMIXER_OIDC_CLIENT_ID=oidc_provider.client_id,
        # level messages at 50 Hz fill a stalled client's buffers in ~3 s instead of ~12 s
        AIMIXER_STUDIO_LEVELS_HZ="50",
    )
    srv.keys, srv.key_ids = keys, ids
    srv.oidc = oidc_provider
    try:
        yield srv
    finally:
        srv.stop()
