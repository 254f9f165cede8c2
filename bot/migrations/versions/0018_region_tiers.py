"""regions in tiers (issue 17)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 19:00:00.000000
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # the region-tiers helper fills this in


def downgrade() -> None:
    pass
