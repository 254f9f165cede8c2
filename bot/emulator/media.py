"""Temporary media (临时素材) of the emulated account: media/upload and media/get.

What a user sends (a photo) reaches the account as a MediaId the account downloads with
media/get; tests make such media with media/upload, which follows the same rules.

Rules emulated (WeChat's temporary-material documentation and its global return codes):
- media/upload?type=: type image | voice | video | thumb, else 40004 (invalid media type); the
  multipart part "media" is required (41005, media data missing); size limits image 10 MB (40009),
  voice 2 MB (40010), video 10 MB (40011), thumb 64 KB (40012); formats image PNG/JPEG/JPG/GIF,
  voice AMR/MP3, video MP4, thumb JPG, read from the bytes for images (40005, invalid file type).
  Answers {"type", "media_id", "created_at"}.
- media/get?media_id=: 41006 without a media_id; 40007 (invalid media_id) for one never issued
  and for one older than 3 days (temporary media expire then), on the emulator clock. Answers the
  bytes with Content-Type and Content-disposition: attachment; filename="<media_id>.<ext>", as the
  live API does; a video answers {"video_url": ...} JSON instead.
- Both need a valid access_token (41001 / 40001 / 42001 as every API).
/_emulator/reset clears the media too.
"""
from __future__ import annotations

import itertools
import secrets
import threading
from dataclasses import dataclass

from flask import Flask, Response, jsonify, request

from bot.emulator import errors
from bot.emulator.state import EmulatorState

INVALID_MEDIA_TYPE = 40004
INVALID_FILE_TYPE = 40005
INVALID_MEDIA_ID = 40007
INVALID_IMAGE_SIZE = 40009
INVALID_VOICE_SIZE = 40010
INVALID_VIDEO_SIZE = 40011
INVALID_THUMB_SIZE = 40012
MEDIA_DATA_MISSING = 41005
MEDIA_ID_MISSING = 41006

ERRMSG = {
    INVALID_MEDIA_TYPE: "invalid media type", INVALID_FILE_TYPE: "invalid file type",
    INVALID_MEDIA_ID: "invalid media_id", INVALID_IMAGE_SIZE: "invalid image size",
    INVALID_VOICE_SIZE: "invalid voice size", INVALID_VIDEO_SIZE: "invalid video size",
    INVALID_THUMB_SIZE: "invalid thumb size", MEDIA_DATA_MISSING: "media data missing",
    MEDIA_ID_MISSING: "media_id missing",
}

MEDIA_LIFETIME_SECONDS = 3 * 24 * 3600
LIMITS = {"image": (10 * 2**20, INVALID_IMAGE_SIZE), "voice": (2 * 2**20, INVALID_VOICE_SIZE),
          "video": (10 * 2**20, INVALID_VIDEO_SIZE), "thumb": (64 * 2**10, INVALID_THUMB_SIZE)}
FORMATS = {"voice": {"amr", "mp3"}, "video": {"mp4"}, "thumb": {"jpg", "jpeg"}}
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "amr": "audio/amr",
                 "mp3": "audio/mpeg", "mp4": "video/mp4"}


def _error(code: int) -> errors.ApiError:
    err = errors.ApiError(code)
    err.errmsg = ERRMSG[code]
    return err


def image_format(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    return None


@dataclass
class Media:
    media_id: str
    type: str
    ext: str
    data: bytes
    created_at: float


class MediaState:
    def __init__(self, account: EmulatorState):
        self.account = account
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.media: dict[str, Media] = {}
            self.downloads = 0

    def _authenticate(self, access_token: str | None) -> None:
        self.account.tokens.authenticate(access_token, self.account.now())

    def upload(self, access_token: str | None, media_type: str | None, filename: str, data: bytes | None) -> dict:
        self._authenticate(access_token)
        if media_type not in LIMITS:
            raise _error(INVALID_MEDIA_TYPE)
        if not data:
            raise _error(MEDIA_DATA_MISSING)
        limit, code = LIMITS[media_type]
        if len(data) > limit:
            raise _error(code)
        if media_type == "image":
            ext = image_format(data)
        else:
            ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
            ext = "jpg" if ext == "jpeg" else ext
            ext = ext if ext in FORMATS[media_type] or (media_type == "thumb" and image_format(data) == "jpg") else None
        if ext is None:
            raise _error(INVALID_FILE_TYPE)
        now = self.account.now()
        with self._lock:
            media_id = f"emu-{next(self._ids)}-{secrets.token_hex(12)}"
            self.media[media_id] = Media(media_id, media_type, ext, data, now)
        return {"type": media_type, "media_id": media_id, "created_at": int(now)}

    def get(self, access_token: str | None, media_id: str | None) -> Media:
        self._authenticate(access_token)
        if not media_id:
            raise _error(MEDIA_ID_MISSING)
        with self._lock:
            media = self.media.get(media_id)
            if media is None or self.account.now() - media.created_at >= MEDIA_LIFETIME_SECONDS:
                raise _error(INVALID_MEDIA_ID)
            self.downloads += 1
            return media


def install(app: Flask, account: EmulatorState) -> MediaState:
    """Register media/upload and media/get (and their reset) on the emulator app."""
    state = MediaState(account)
    app.extensions["wechat_emulator_media"] = state

    @app.before_request
    def reset_with_the_account():
        if request.path == "/_emulator/reset" and request.method == "POST":
            state.reset()

    @app.post("/cgi-bin/media/upload")
    def media_upload():
        part = request.files.get("media")
        data = part.read() if part is not None else None
        return jsonify(state.upload(request.args.get("access_token"), request.args.get("type"),
                                    part.filename or "" if part is not None else "", data))

    @app.get("/cgi-bin/media/get")
    def media_get():
        media = state.get(request.args.get("access_token"), request.args.get("media_id"))
        if media.type == "video":
            return jsonify({"video_url": f"{request.host_url}_emulator/media/{media.media_id}.mp4"})
        return Response(media.data, mimetype=CONTENT_TYPES.get(media.ext, "application/octet-stream"),
                        headers={"Content-disposition": f'attachment; filename="{media.media_id}.{media.ext}"'})

    @app.get("/_emulator/media")
    def media_stats():
        with state._lock:
            return jsonify({"media": len(state.media), "downloads": state.downloads})

    return state
