"""the application form a user has open, kept where an emptied Redis cannot lose it

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 16:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('wechat_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('form_started_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('wechat_users', schema=None) as batch_op:
        batch_op.drop_column('form_started_at')
