"""Where case material (photos and files from the chat) is kept: one small interface, a folder
behind it on the embedded default and wherever a production path points.

`MaterialStore` is what bot/casework/materials.py and the console use: put bytes under a key,
read them back. `FolderStore` is the implementation here (BANGBAN_MEDIA_DIR, default
./var/media; a mounted network path in production). An S3-compatible store would implement the
same three methods with boto3 (put_object / get_object / head_object); boto3 is not a
dependency of this project, so BANGBAN_MEDIA_STORE=s3://… is refused with a clear message
rather than half-supported.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

from bot.platform.config import Settings


class MaterialStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...


class StoreNotConfigured(RuntimeError):
    pass


class FolderStore:
    """Files under one folder; a key is a relative path of safe parts (materials.storage_key)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") or "\\" in p for p in parts):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root.joinpath(*parts)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside, then renamed: a crash never leaves half a file under the real name.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


def store_for(settings: Settings) -> MaterialStore:
    where = settings.media_store.strip()
    if where.startswith("s3://"):
        raise StoreNotConfigured("BANGBAN_MEDIA_STORE=s3://… is an interface only here (MaterialStore in "
                                 "bot/casework/materials_store.py; boto3 is not installed): "
                                 "use a folder path, e.g. a mounted volume")
    return FolderStore(where or settings.media_dir)
