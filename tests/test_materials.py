"""Photos and files as case material (issue 16, item 2), end to end: a signed WeChat callback with
an image from a user with an open case, the row written before the reply, the scheduler job
downloading it from the local WeChat emulator (media/get) into the store, the console's case page
listing it with sender and time (and serving it to staff who may see the case), the chat counting
the case's materials; a restart between receipt and download, expired media, a user without a
case, and files too large or of a type we do not keep."""
from __future__ import annotations

import io
import re
import struct
import time
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import CAL, PERMIT, STAFF_PASSWORD, db_of, fill_database, fixture_kb_retriever

from bot.casework import case_actions, cases, materials
from bot.emulator import EmulatorControl, demo_wechat, serve
from bot.models import CaseMaterial, LedgerEntry, Notification, Staff, utcnow
from bot.platform.config import Settings
from bot.platform.kv import MemoryKV
from bot.push import wechat_api
from bot.scheduler import Jobs
from dialogs import build_manager
from dialogs.texts import materials as texts
from webhook import create_app
from webhook.simulator import WeChatServer, reply_fields

pytestmark = pytest.mark.usefixtures("fast_password_hashes")

ENTERPRISE = "oMaterialSender01"


def png(size: int = 0) -> bytes:
    """A real 1x1 PNG, padded with a trailing chunk to about `size` bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    body = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")))
    if size > len(body):
        body += chunk(b"tEXt", b"x" * (size - len(body) - 12))
    return body + chunk(b"IEND", b"")


_ids = iter(range(7_100_000_000, 8_000_000_000))


def image_xml(sender: str, media_id: str, msg_id: int | None = None) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_bangbantong]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
            f"<PicUrl><![CDATA[http://mmbiz.qpic.cn/x]]></PicUrl><MediaId><![CDATA[{media_id}]]></MediaId>"
            f"<MsgId>{msg_id or next(_ids)}</MsgId></xml>")


def file_xml(sender: str, title: str, size: int) -> str:
    """A file message as WeChat sends it (no MediaId: Title, FileKey, FileMd5, FileTotalLen)."""
    return (f"<xml><ToUserName><![CDATA[gh_bangbantong]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[file]]></MsgType>"
            f"<Title><![CDATA[{title}]]></Title><Description><![CDATA[]]></Description>"
            f"<FileKey><![CDATA[AwAAAAAAAABF4n55]]></FileKey><FileMd5><![CDATA[07bee1c012c5ef718514701d42fae10c]]></FileMd5>"
            f"<FileTotalLen>{size}</FileTotalLen><MsgId>{next(_ids)}</MsgId></xml>")


class World:
    """The app and the scheduler's jobs on one database, the emulator as WeChat's API."""

    def __init__(self, database_url: str, base: str, media_dir: str):
        self.database_url, self.base = database_url, base
        self.settings = demo_wechat.settings_for(
            Settings(database_url=database_url, media_dir=media_dir, material_quiet_s=60), base)
        self.control = EmulatorControl(base)
        self.wechat = WeChatServer(self.settings.wechat_token)
        self.start()

    def start(self) -> None:
        retriever = fixture_kb_retriever()
        self.manager = build_manager(self.settings, kb=retriever.kb, kv=MemoryKV(), retriever=retriever)
        self.app = create_app(self.settings, manager=self.manager)
        self.jobs = Jobs(self.settings, sessions=self.manager.sessions)

    def stop(self) -> None:
        self.manager.sessions.kw["bind"].dispose()

    def restart(self) -> None:
        self.stop()
        self.start()

    def send(self, xml: str) -> str:
        cb = self.wechat.callback(xml)
        r = self.app.test_client().post(cb.path, data=cb.body, content_type="text/xml")
        assert r.status_code == 200, r.status_code
        return reply_fields(r.get_data(as_text=True)).get("Content", "")

    def upload(self, data: bytes, name: str = "photo.png") -> str:
        """A photo as WeChat keeps what a user sends: temporary media in the emulator."""
        client = wechat_api.make_client(self.settings.wechat_appid, self.settings.wechat_secret, self.base)
        return client.media.upload("image", (name, io.BytesIO(data)))["media_id"]

    def materials(self) -> list[CaseMaterial]:
        with db_of(self.app) as db:
            rows = list(db.scalars(sa.select(CaseMaterial).order_by(CaseMaterial.id)))
            db.expunge_all()
            return rows


@pytest.fixture()
def world(database_url, tmp_path):
    fill_database(database_url, "roster")
    with serve() as base:
        w = World(database_url, base, str(tmp_path / "media"))
        yield w
        w.stop()


def open_case(world: World, openid: str = ENTERPRISE, correction: bool = True) -> str:
    """A donghu case of `openid`, assigned to donghu-1, accepted, its permit item waiting for 补正."""
    with db_of(world.app) as db:
        case = cases.submit(db, cases.Application(
            mode="帮办", applicant_openid=openid, company_name="武汉光谷示例科技有限公司",
            credit_code="91350100M000100Y43", project_name="光谷示例研发楼", region="donghu",
            investment_type="社会投资", stage="3", contact_name="陈经理", contact_phone="13800000000",
            items=(PERMIT,)), CAL)
        commissioner = db.scalar(sa.select(Staff).where(Staff.username == "donghu-1"))
        case.commissioner_id = commissioner.id
        db.flush()
        if correction:
            actor = case_actions.Actor.person(commissioner)
            case_actions.accept(db, case, actor)
            item = cases.items_of(db, case)[0]
            case_actions.move_item(db, case, item.id, "submitted", actor)
            case_actions.request_correction(db, case, item.id, "建设工程规划许可证复印件",
                                            utcnow().date() + timedelta(days=5), actor)
        return case.number


def signed_in(world: World, username: str):
    client = world.app.test_client()
    html = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)[1]
    r = client.post("/console/login", data={"username": username, "password": STAFF_PASSWORD, "csrf_token": token})
    assert r.status_code == 303
    return client


def test_a_photo_during_a_correction_is_stored_listed_and_counted(world):
    number = open_case(world)
    photo = png(2048)
    reply = world.send(image_xml(ENTERPRISE, world.upload(photo)))
    assert reply.startswith("已收到，共 1 份材料") and number in reply and "建筑工程施工许可证核发" in reply

    [row] = world.materials()  # written before the reply, not downloaded yet
    assert (row.state, row.kind, row.sender_openid, row.case_item_id is not None) == ("pending", "image", ENTERPRISE, True)
    with db_of(world.app) as db:
        case = cases.by_number(db, number)
        lines = [e for e in cases.ledger_of(db, case) if e.action == materials.RECEIVED]
        assert len(lines) == 1 and "补正材料已收到" in lines[0].detail and lines[0].case_item_id == row.case_item_id
        assert cases.action_name(lines[0].action) == "收到材料"

    counts = world.jobs.case_materials()
    assert (counts.stored, counts.failed) == (1, 0)
    [row] = world.materials()
    assert row.state == "stored" and row.content_type == "image/png" and row.size == len(photo)
    assert world.jobs.material_store.get(row.storage_key) == photo
    assert (Path(world.settings.media_dir) / row.storage_key).read_bytes() == photo  # a file in BANGBAN_MEDIA_DIR

    reply = world.send(image_xml(ENTERPRISE, world.upload(png())))
    assert reply.startswith("已收到，共 2 份材料")

    page = signed_in(world, "donghu-1").get(f"/console/cases/{number}").get_data(as_text=True)
    section = page.split('id="materials"', 1)[1].split("</section>", 1)[0]
    assert "企业（陈经理）" in section and section.count("<tr id=\"m") == 2 and "建筑工程施工许可证核发" in section
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", section)  # when it came, in service time
    link = f"/console/cases/{number}/materials/{row.id}"
    assert link in section
    r = signed_in(world, "donghu-1").get(link)
    assert r.status_code == 200 and r.data == photo and r.mimetype == "image/png"
    assert signed_in(world, "donghu-lead").get(link).status_code == 200  # the region's supervisor
    assert signed_in(world, "donghu-2").get(link).status_code == 404  # another commissioner's case
    assert signed_in(world, "jiangbei-lead").get(link).status_code == 404  # another region
    assert world.app.test_client().get(link).status_code == 303  # signed out: to the login page


def test_the_commissioner_hears_once_per_batch(world):
    number = open_case(world)
    for _ in range(3):
        world.send(image_xml(ENTERPRISE, world.upload(png())))
    world.jobs.case_materials()
    with db_of(world.app) as db:
        assert not db.scalars(sa.select(Notification).where(Notification.purpose == "materials")).all()
    later = utcnow() + timedelta(seconds=61)  # a quiet minute after the last photo
    assert world.jobs.case_materials(now=later).notified == 1
    assert world.jobs.case_materials(now=later + timedelta(seconds=5)).notified == 0
    with db_of(world.app) as db:
        [push] = db.scalars(sa.select(Notification).where(Notification.purpose == "materials"))
        assert push.recipient_openid == "oStaff_donghu_1" and "3份材料" in push.text and number in push.text
        assert "未能保存" not in push.text  # all three were saved: nothing for the enterprise


def test_a_restart_between_receipt_and_download_loses_nothing(world):
    number = open_case(world)
    photo = png(4096)
    assert world.send(image_xml(ENTERPRISE, world.upload(photo))).startswith("已收到，共 1 份材料")
    world.restart()  # the process that answered is gone before any download
    assert [m.state for m in world.materials()] == ["pending"]
    assert world.jobs.case_materials().stored == 1
    [row] = world.materials()
    assert row.state == "stored" and row.storage_key.startswith(number)
    assert world.jobs.material_store.get(row.storage_key) == photo


def test_a_retried_callback_keeps_the_photo_once(world):
    open_case(world)
    xml = image_xml(ENTERPRISE, world.upload(png()), msg_id=7_000_000_123)
    first = world.send(xml)
    assert world.send(xml) in (first, "")
    assert len(world.materials()) == 1


def test_a_busy_api_is_retried_and_expired_media_fails_for_good(world):
    number = open_case(world)
    world.send(image_xml(ENTERPRISE, world.upload(png())))
    world.control.inject_fault("/cgi-bin/media/get", "busy")
    assert world.jobs.case_materials().retried == 1
    [row] = world.materials()
    assert row.state == "pending" and row.last_error

    world.control.advance_clock(3 * 24 * 3600 + 1)  # WeChat dropped the media meanwhile
    counts = world.jobs.case_materials(now=utcnow() + timedelta(hours=2))
    assert counts.failed == 1
    [row] = world.materials()
    assert row.state == "failed" and "40007" in row.last_error
    with db_of(world.app) as db:
        case = cases.by_number(db, number)
        assert [e.action for e in cases.ledger_of(db, case)].count(materials.FAILED) == 1
    page = signed_in(world, "donghu-1").get(f"/console/cases/{number}").get_data(as_text=True)
    section = page.split('id="materials"', 1)[1].split("</section>", 1)[0]
    assert "未能保存" in section and "40007" in section and "下载</a>" not in section
    # the failed one is not counted as received
    assert world.send(image_xml(ENTERPRISE, world.upload(png()))).startswith("已收到，共 1 份材料")
    # the batch's pushes: the commissioner hears of both, the enterprise that one was not saved
    world.jobs.case_materials(now=utcnow() + timedelta(hours=3))
    with db_of(world.app) as db:
        pushes = [(n.recipient_kind, n.text) for n in db.scalars(sa.select(Notification).where(
            Notification.purpose == "materials").order_by(Notification.id))]
    [(_, failed_batch), (_, told), (_, saved_batch)] = pushes
    assert "（1份未能保存）" in failed_batch and "未能保存" not in saved_batch
    assert "1份没能保存（微信已不再提供该文件）" in told and "重新发送" in told
    assert [kind for kind, _ in pushes] == ["staff", "enterprise", "staff"]


def test_media_older_than_three_days_is_not_asked_for(world):
    open_case(world)
    world.send(image_xml(ENTERPRISE, world.upload(png())))
    counts = world.jobs.case_materials(now=utcnow() + timedelta(days=3, minutes=1))
    assert counts.failed == 1 and "3天" in world.materials()[0].last_error


def test_outside_a_case_the_bot_says_what_photos_are_for(world):
    reply = world.send(image_xml("oNobodyWithACase", world.upload(png())))
    assert reply == texts.NO_CASE
    assert world.materials() == []
    with db_of(world.app) as db:
        assert not db.scalars(sa.select(LedgerEntry).where(LedgerEntry.action == materials.RECEIVED)).all()


def test_a_photo_while_applying_is_not_lost_in_silence(world):
    """Mid-form there is no case yet: the applicant is told to submit first, nothing is stored."""
    from bot.people import users

    with db_of(world.app) as db:
        users.mark_form(db, "oApplyingNow", True)
    assert world.send(image_xml("oApplyingNow", world.upload(png()))) == texts.FORM_OPEN
    assert world.materials() == []


def test_a_photo_opens_the_customer_service_window(world):
    from bot.models import WechatUser

    open_case(world)
    world.send(image_xml(ENTERPRISE, world.upload(png())))
    with db_of(world.app) as db:
        assert db.get(WechatUser, ENTERPRISE).last_message_at is not None


def test_a_closed_case_takes_no_more_material(world):
    number = open_case(world, correction=False)
    with db_of(world.app) as db:
        case = cases.by_number(db, number)
        cases.transition(db, case, "terminated", actor_kind="system", actor_id=None, reason="企业主动终止")
    assert world.send(image_xml(ENTERPRISE, world.upload(png()))) == texts.NO_CASE
    assert world.materials() == []


def test_an_open_application_takes_material_too(world):
    number = open_case(world, correction=False)
    reply = world.send(image_xml(ENTERPRISE, world.upload(png())))
    assert reply.startswith("已收到，共 1 份材料") and number in reply and "补正" not in reply


def test_files_too_large_or_of_other_types_are_refused_politely(world):
    open_case(world)
    reply = world.send(file_xml(ENTERPRISE, "施工合同.exe", 2048))
    assert reply.startswith("抱歉") and "PDF" in reply
    reply = world.send(file_xml(ENTERPRISE, "全套图纸.pdf", 50 * 2**20))
    assert reply.startswith("抱歉") and "20 MB" in reply
    assert world.materials() == []
    reply = world.send(file_xml(ENTERPRISE, "规划许可证.pdf", 300_000))
    assert reply.startswith("已收到，共 1 份材料") and "原件" in reply
    [row] = world.materials()
    assert (row.state, row.file_name, row.size) == ("listed", "规划许可证.pdf", 300_000)


def test_a_downloaded_image_over_our_limit_fails_with_the_reason(world, tmp_path):
    world.settings = world.settings.with_(material_image_max_bytes=1000)
    world.restart()
    open_case(world)
    world.send(image_xml(ENTERPRISE, world.upload(png(5000))))
    assert world.jobs.case_materials().failed == 1
    assert "上限" in world.materials()[0].last_error
    world.jobs.case_materials(now=utcnow() + timedelta(minutes=2))
    with db_of(world.app) as db:
        [told] = db.scalars(sa.select(Notification).where(Notification.purpose == "materials",
                                                          Notification.recipient_kind == "enterprise"))
        assert "（超过 1 KB）" in told.text


# -- the emulator's media rules ----------------------------------------------------------------

def test_the_emulator_enforces_media_rules(world):
    from wechatpy.exceptions import WeChatClientException

    client = wechat_api.make_client(world.settings.wechat_appid, world.settings.wechat_secret, world.base)
    with pytest.raises(WeChatClientException) as err:
        client.media.download("never-issued")
    assert err.value.errcode == 40007
    with pytest.raises(WeChatClientException) as err:
        client.media.upload("image", ("a.png", io.BytesIO(b"not an image")))
    assert err.value.errcode == 40005
    with pytest.raises(WeChatClientException) as err:
        client.media.upload("image", ("a.png", io.BytesIO(png(10 * 2**20 + 1))))
    assert err.value.errcode == 40009
    with pytest.raises(WeChatClientException) as err:
        client.media.upload("document", ("a.png", io.BytesIO(png())))
    assert err.value.errcode == 40004
    media_id = client.media.upload("image", ("a.png", io.BytesIO(png())))["media_id"]
    res = client.media.download(media_id)
    assert res.content == png() and res.headers["Content-Type"] == "image/png"
    assert f'filename="{media_id}.png"' in res.headers["Content-disposition"]
    world.control.advance_clock(3 * 24 * 3600)
    with pytest.raises(WeChatClientException) as err:
        client.media.download(media_id)
    assert err.value.errcode == 40007


def test_the_demo_attaches_a_photo_to_an_open_correction(world):
    from webhook.media_demo import attach_demo_photo

    assert attach_demo_photo(world.app, world.settings) == "no open 补正 to attach a photo to"
    number = open_case(world)
    line = attach_demo_photo(world.app, world.settings)
    assert number in line and "已收到，共 1 份材料" in line and "downloaded 1" in line
    assert [m.state for m in world.materials()] == ["stored"]


def test_two_downloaders_fetch_each_photo_once(world):
    """Several scheduler processes may overlap a moment (bot/scheduler.py): rows are claimed with
    a lease (SKIP LOCKED on PostgreSQL), so every photo is fetched and stored once."""
    import threading

    from bot.casework.materials_store import store_for

    open_case(world)
    for _ in range(6):
        world.send(image_xml(ENTERPRISE, world.upload(png())))
    results, store = [], store_for(world.settings)

    def run():
        jobs = Jobs(world.settings, sessions=world.manager.sessions)
        results.append(materials.download_due(world.manager.sessions, jobs.client, store, world.settings, batch=3))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = sum(r.stored for r in results)
    rest = world.jobs.case_materials().stored  # whatever neither thread claimed
    assert done + rest == 6 and sum(r.claimed for r in results) == done
    assert [m.state for m in world.materials()] == ["stored"] * 6
    import requests
    assert requests.get(f"{world.base}/_emulator/media", timeout=5).json()["downloads"] == 6
