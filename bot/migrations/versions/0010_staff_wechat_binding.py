"""staff bound from a QR code scan: one-time binding scenes, region poster scenes (issue 16)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'wechat_qr_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('region', sa.String(length=32), nullable=True),
        sa.Column('staff_id', sa.Integer(), nullable=True),
        sa.Column('token_hash', sa.String(length=64), nullable=True),
        sa.Column('ticket', sa.String(length=255), nullable=True),
        sa.Column('url', sa.String(length=1024), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('used_by', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_wechat_qr_codes_staff_id_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_wechat_qr_codes')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_wechat_qr_codes_token_hash')),
    )
    with op.batch_alter_table('wechat_qr_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wechat_qr_codes_staff_id'), ['staff_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('wechat_qr_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wechat_qr_codes_staff_id'))
    op.drop_table('wechat_qr_codes')
