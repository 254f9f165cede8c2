"""regions in tiers (issue 17)

No schema change: a sub-region's code (镇/园区/县, config/region_tiers.yaml) fits the String(32)
Case.region, Staff.region and Handoff.region already hold, and the hierarchy is configuration
(bot/platform/region_tiers.py), not rows. The revision stays, empty, so the chain 0016-0019 is one line.

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
    pass  # nothing to change: see the docstring


def downgrade() -> None:
    pass
