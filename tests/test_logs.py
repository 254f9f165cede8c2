"""Operators' logs carry request ids and never a full credit code or phone number."""
from __future__ import annotations

import io
import json
import logging

from bot.platform.logs import JsonFormatter, MaskingFilter, mask_personal_data, request_id


def test_credit_codes_and_phones_are_masked():
    text = "企业 91350100M000100Y43 联系 13800138000 / 027-87654321 项目代码 2020-420111-70-03-012345"
    masked = mask_personal_data(text)
    assert "91350100M000100Y43" not in masked and "13800138000" not in masked and "87654321" not in masked
    assert "2020-420111-70-03-012345" in masked  # project codes are public, not personal


def test_log_lines_are_masked_json_with_the_request_id():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter())
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("test.logs")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    token = request_id.set("req-42")
    try:
        log.info("submitted %s by %s", "91350100M000100Y43", "13800138000")
    finally:
        request_id.reset(token)
        log.removeHandler(handler)
    entry = json.loads(stream.getvalue())
    assert entry["request_id"] == "req-42" and entry["level"] == "INFO"
    assert "91350100M000100Y43" not in entry["message"] and "13800138000" not in entry["message"]
