"""Fixtures for these tests: the shared identity and OAuth-client builders."""

from tests.oauth_factories import make_client, make_identity

__all__ = ["make_client", "make_identity"]
