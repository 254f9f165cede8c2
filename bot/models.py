"""Domain tables (SQLAlchemy 2). Schema changes go through Alembic in bot/migrations/."""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class WechatUser(Base):
    """Someone who follows or writes to the Official Account (an enterprise clerk, usually)."""

    __tablename__ = "wechat_users"

    openid: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    subscribed: Mapped[bool] = mapped_column(default=True)
    region: Mapped[str | None] = mapped_column(sa.String(32))
    first_seen_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    # The 48-hour customer-service window opens with the user's last message.
    last_message_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class KbQuery(Base):
    """One consultation question and how the knowledge base fared: curators read the gaps."""

    __tablename__ = "kb_queries"

    id: Mapped[int] = mapped_column(primary_key=True)
    asked_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    user_ref: Mapped[str] = mapped_column(sa.String(16))  # hashed openid, never the openid
    question: Mapped[str] = mapped_column(sa.String(500))
    normalized: Mapped[str] = mapped_column(sa.String(500), index=True)
    outcome: Mapped[str] = mapped_column(sa.String(16), index=True)  # answered|clarified|unsure
    topic: Mapped[str | None] = mapped_column(sa.String(80))
    confidence: Mapped[float] = mapped_column(default=0.0)
