"""users and kb queries

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 06:03:54.284178
"""
import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kb_queries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_ref', sa.String(length=16), nullable=False),
    sa.Column('question', sa.String(length=500), nullable=False),
    sa.Column('normalized', sa.String(length=500), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('topic', sa.String(length=80), nullable=True),
    sa.Column('confidence', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_queries'))
    )
    with op.batch_alter_table('kb_queries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kb_queries_asked_at'), ['asked_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_kb_queries_normalized'), ['normalized'], unique=False)
        batch_op.create_index(batch_op.f('ix_kb_queries_outcome'), ['outcome'], unique=False)

    op.create_table('wechat_users',
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('subscribed', sa.Boolean(), nullable=False),
    sa.Column('region', sa.String(length=32), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_message_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('openid', name=op.f('pk_wechat_users'))
    )


def downgrade() -> None:
    op.drop_table('wechat_users')
    with op.batch_alter_table('kb_queries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kb_queries_outcome'))
        batch_op.drop_index(batch_op.f('ix_kb_queries_normalized'))
        batch_op.drop_index(batch_op.f('ix_kb_queries_asked_at'))

    op.drop_table('kb_queries')
