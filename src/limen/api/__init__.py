"""HTTP surfaces: a thin FastAPI shell over the domain packages."""

from limen.api.app import create_app

__all__ = ["create_app"]
