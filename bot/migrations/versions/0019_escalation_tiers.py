"""escalation tiers per region (issue 17)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 19:00:00.000000
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # the escalation-tiers helper fills this in


def downgrade() -> None:
    pass
