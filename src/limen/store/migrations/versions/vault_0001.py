"""vault: vaults, items, sealed item versions, files, key-encryption key records

Revision ID: vault_0001
Revises: 0001_foundation
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "vault_0001"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "vaults",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("max_secret_age_days", sa.Integer(), nullable=True),
        sa.Column("attribute_version", sa.Integer(), nullable=False),
        sa.Column("content_version", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vaults")),
        sa.UniqueConstraint("name", name=op.f("uq_vaults_name")),
    )
    op.create_table(
        "vault_items",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("vault_id", sa.String(length=26), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("favorite", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("max_secret_age_days", sa.Integer(), nullable=True),
        sa.Column("secrets_changed_at", _TS, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("last_edited_by", sa.String(length=200), nullable=True),
        sa.Column("file_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("deleted_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["vault_id"], ["vaults.id"], name=op.f("fk_vault_items_vault_id_vaults")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_items")),
    )
    op.create_index("ix_vault_items_vault_id", "vault_items", ["vault_id"])
    op.create_index("ix_vault_items_vault_title", "vault_items", ["vault_id", "title"])
    op.create_table(
        "vault_item_versions",
        sa.Column("item_id", sa.String(length=26), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("kek_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["vault_items.id"], name=op.f("fk_vault_item_versions_item_id_vault_items")
        ),
        sa.PrimaryKeyConstraint("item_id", "version", name=op.f("pk_vault_item_versions")),
    )
    op.create_index("ix_vault_item_versions_kek_id", "vault_item_versions", ["kek_id"])
    op.create_table(
        "vault_files",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("item_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("section_id", sa.String(length=64), nullable=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("kek_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("deleted_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["vault_items.id"], name=op.f("fk_vault_files_item_id_vault_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_files")),
    )
    op.create_index("ix_vault_files_item_id", "vault_files", ["item_id"])
    op.create_index("ix_vault_files_kek_id", "vault_files", ["kek_id"])
    op.create_table(
        "vault_keks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=True),
        sa.Column("kdf_params", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("retired_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_keks")),
    )


def downgrade() -> None:
    op.drop_table("vault_keks")
    op.drop_table("vault_files")
    op.drop_table("vault_item_versions")
    op.drop_table("vault_items")
    op.drop_table("vaults")
