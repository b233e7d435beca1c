"""detect_alerts: the alert queue and an identity's alerts from indexes, newest first

Revision ID: 0021_alert_pages
Revises: 0020_identities_pages
Create Date: 2026-12-06

The console's alert queue lists alerts newest first (``created_at``, ``id``), mostly of
one status: the index on ``status`` alone found them all and the database sorted every
open alert for the first 100. An identity's page asks for its alerts by id, name or
subject, and only ``subject`` had an index: every alert was read. Alerts accumulate (they
are closed, not deleted), so both grew with the installation's age (issue #19).
"""

from __future__ import annotations

from alembic import op

revision = "0021_alert_pages"
down_revision = "0020_identities_pages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_detect_alerts_status_page", "detect_alerts", ["status", "created_at", "id"])
    op.drop_index("ix_detect_alerts_status", table_name="detect_alerts")
    op.create_index("ix_detect_alerts_created", "detect_alerts", ["created_at", "id"])
    op.create_index("ix_detect_alerts_identity_id", "detect_alerts", ["identity_id"])
    op.create_index("ix_detect_alerts_identity_name", "detect_alerts", ["identity_name"])


def downgrade() -> None:
    op.drop_index("ix_detect_alerts_identity_name", table_name="detect_alerts")
    op.drop_index("ix_detect_alerts_identity_id", table_name="detect_alerts")
    op.drop_index("ix_detect_alerts_created", table_name="detect_alerts")
    op.create_index("ix_detect_alerts_status", "detect_alerts", ["status"])
    op.drop_index("ix_detect_alerts_status_page", table_name="detect_alerts")
