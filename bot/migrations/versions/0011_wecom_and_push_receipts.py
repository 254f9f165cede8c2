"""WeCom user ids of staff and what WeChat said about each template push (issue 16)

Staff.wecom_userid: where a staff member's alerts go in 企业微信. Notification: the colleague and WeCom address
of a staff push (recipient_openid becomes optional: a WeCom-only colleague has none), and a
template message's msgid with the TEMPLATESENDJOBFINISH receipt for it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 16:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wecom_userid', sa.String(length=64), nullable=True))
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.alter_column('recipient_openid', existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column('recipient_wecom_userid', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('recipient_staff_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_notifications_recipient_staff_id_staff'), 'staff',
                                    ['recipient_staff_id'], ['id'])
        batch_op.add_column(sa.Column('msgid', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('receipt', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('receipt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_notifications_msgid'), ['msgid'], unique=False)


def downgrade() -> None:
    # A WeCom-only staff push has no openid: it cannot be kept under the old NOT NULL rule.
    op.execute("DELETE FROM notifications WHERE recipient_openid IS NULL")
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_msgid'))
        batch_op.drop_column('receipt_at')
        batch_op.drop_column('receipt')
        batch_op.drop_column('msgid')
        batch_op.drop_constraint(batch_op.f('fk_notifications_recipient_staff_id_staff'), type_='foreignkey')
        batch_op.drop_column('recipient_staff_id')
        batch_op.drop_column('recipient_wecom_userid')
        batch_op.alter_column('recipient_openid', existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_column('wecom_userid')
