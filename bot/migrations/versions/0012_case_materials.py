"""photos and files received as case material (issue 16)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 16:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_materials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('case_item_id', sa.Integer(), nullable=True),
    sa.Column('sender_openid', sa.String(length=64), nullable=False),
    sa.Column('message_key', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('media_id', sa.String(length=128), nullable=True),
    sa.Column('file_name', sa.String(length=200), nullable=True),
    sa.Column('content_type', sa.String(length=80), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('md5', sa.String(length=32), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('storage_key', sa.String(length=300), nullable=True),
    sa.Column('stored_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_materials_case_id_cases')),
    sa.ForeignKeyConstraint(['case_item_id'], ['case_items.id'], name=op.f('fk_case_materials_case_item_id_case_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_materials')),
    sa.UniqueConstraint('message_key', name=op.f('uq_case_materials_message_key'))
    )
    with op.batch_alter_table('case_materials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_materials_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_materials_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_materials_notified_at'), ['notified_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_materials_sender_openid'), ['sender_openid'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_materials_state'), ['state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case_materials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_materials_state'))
        batch_op.drop_index(batch_op.f('ix_case_materials_sender_openid'))
        batch_op.drop_index(batch_op.f('ix_case_materials_notified_at'))
        batch_op.drop_index(batch_op.f('ix_case_materials_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_case_materials_case_id'))
    op.drop_table('case_materials')
