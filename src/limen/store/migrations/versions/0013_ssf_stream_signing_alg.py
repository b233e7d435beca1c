"""ssf: a stream may ask for its SETs' JWS algorithm

Revision ID: 0013_ssf_stream_signing_alg
Revises: 0012_item_rotation_needed
Create Date: 2026-12-06

``ssf_streams.signing_alg``: ``EdDSA`` or ``RS256`` as the receiver asked in the stream
configuration; empty (``NULL``) follows the installation's ``LIMEN_SSF_SIGNING_ALG``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_ssf_stream_signing_alg"
down_revision = "0012_item_rotation_needed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ssf_streams") as batch:
        batch.add_column(sa.Column("signing_alg", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ssf_streams") as batch:
        batch.drop_column("signing_alg")
