"""The media table: every file a customer sent (or an agent sent them), fetched or refused.

Imported at the bottom of `storage.tables`, so the metadata holds it. Each row carries the
customer's id, so export, retention and erasure find the customer's files: the row says where
the bytes are (`location`, a file store's URI) and erasing the customer deletes both.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from storage.types import SafeText

__all__ = ["MediaFile"]

_ID = BigInteger().with_variant(Integer(), "sqlite")


class MediaFile(SQLModel, table=True):
    """One file: where Baton keeps it, or why it was refused."""

    __tablename__ = "media_files"
    __table_args__ = (Index("ix_media_files_customer", "customer_id", "id"),)
    id: int | None = Field(
        default=None, sa_column=Column(_ID, primary_key=True, autoincrement=True)
    )
    customer_id: int = Field(sa_column=Column(_ID, ForeignKey("customers.id"), nullable=False))
    channel: str = Field(max_length=32)
    direction: str = Field(max_length=3)
    """"in" (the customer sent it) or "out" (an agent sent it)."""
    platform_ref: str = Field(sa_column=Column(SafeText, nullable=False))
    """The platform's reference: a Telegram file id, a media URL, a Slack file URL."""
    kind: str = Field(max_length=16)
    """"image", "document", "audio" or "video"."""
    mime_type: str | None = Field(default=None, max_length=255)
    name: str | None = Field(default=None, sa_column=Column(SafeText, nullable=True))
    size: int | None = None
    sha256: str | None = Field(default=None, max_length=64)
    location: str | None = Field(default=None, sa_column=Column(SafeText, nullable=True))
    """Where the bytes are (a file store's URI); None when refused or erased."""
    status: str = Field(max_length=16)
    """"stored" or "refused"."""
    reason: str | None = Field(default=None, sa_column=Column(SafeText, nullable=True))
    """Why it was refused: too large, a type not allowed, the download failed or hung, a URL
    not on the platform's host."""
    created_at: float


# Erasure and export (storage.personal_data): a customer's files go with them; the bytes on
# disk are removed by the privacy feature through the media feature's file store.
from storage.personal_data import PersonalTable, declare  # noqa: E402

declare(
    PersonalTable(
        "media_files",
        export="media",
        files="location",
        why="files the customer sent or an agent sent them, and where their bytes are",
    )
)
