"""service options, key projects and contact changes of a case (issue 17)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 16:10:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('service_option', sa.String(length=16), nullable=True))
    op.create_table('case_invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('invited_by', sa.Integer(), nullable=True),
    sa.Column('invited_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_openid', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_invitations_case_id_cases')),
    sa.ForeignKeyConstraint(['invited_by'], ['staff.id'], name=op.f('fk_case_invitations_invited_by_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_invitations')),
    sa.UniqueConstraint('case_id', name=op.f('uq_case_invitations_case_id'))
    )
    with op.batch_alter_table('case_invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_invitations_openid'), ['openid'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_invitations_phone'), ['phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_invitations_state'), ['state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case_invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_invitations_state'))
        batch_op.drop_index(batch_op.f('ix_case_invitations_phone'))
        batch_op.drop_index(batch_op.f('ix_case_invitations_openid'))
    op.drop_table('case_invitations')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('service_option')
