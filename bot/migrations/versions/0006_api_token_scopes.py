"""api token scopes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 15:04:08.617249
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.String(length=40), nullable=False, server_default='read'))
    # Tokens minted before scopes could read and write; they keep both (the role and region rules
    # now bound them), so an approval system already reporting progress is not cut off by a deploy.
    op.execute("UPDATE api_tokens SET scopes = 'read write'")


def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('scopes')
