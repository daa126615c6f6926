"""The versions the site reports, on its pages and through the API."""

from __future__ import annotations

from importlib.metadata import version

# The version of the wire API: DataMeta 1.x's 1.5.0, extended compatibly.
API_VERSION = "1.6.0"


def datameta_version() -> str:
    """The installed DataMeta's own version."""
    return version("datameta")
