"""Slow clients (issue #13, item 9): deploy/nginx.conf in front of the shipped gunicorn config.

A client that sends half a request and waits holds a gunicorn gthread thread while it waits; the
shipped config has 2 workers x 4 threads, so a handful of such clients starve the bot. nginx reads
every request whole (short client timeouts, request buffering, per-address limits) before gunicorn
sees it. These tests run Debian's nginx (`/usr/sbin/nginx`, package `nginx`; nothing is installed
at test time; without it they skip, under CI=true they fail) on deploy/nginx.conf itself, rendered
for a test: loopback ports, no TLS (one test keeps TLS, with a throwaway certificate), logs, pid
and temp files in a tmp dir, the upstream pointing at a gunicorn started here with
gunicorn.conf.py on the embedded defaults (a tmp SQLite file, no Redis).

Measured on the 2-CPU development container (nginx 1.22, gunicorn 27.0.1): with 150 half-open
connections held, /healthz answered through nginx in ~3 ms and a signed /wechat text message in
4-20 ms, and nginx dropped all 150 at its 10 s client timeouts. Sent straight to gunicorn, /healthz
got no answer within the test's 5 s (a longer probe: none in 60 s; 75 half-sent headers alone
starve it as long; 75 half-sent bodies alone held it 20 s), and answered in ~25 ms once the
attackers let go. So the control asserts the starvation.
"""
from __future__ import annotations

import http.client
import os
import pwd
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from webhook.simulator import WeChatServer, reply_fields, text_xml

REPO_ROOT = Path(__file__).resolve().parent.parent
NGINX = "/usr/sbin/nginx"
PRODUCTION_CONF = REPO_ROOT / "deploy" / "nginx.conf"
TOKEN = "nginx-test-token"
ATTACKERS = 150
# Real clients come from another address than the attacker (as WeChat's servers would): the
# per-address limits are meant to stop the one, never the other. Still loopback.
CLIENT_ADDR = "127.0.0.2"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _missing(what: str):
    reason = f"{what}; install Debian's package (apt-get install nginx)"
    if IN_CI:
        pytest.fail(f"{reason}: under CI=true this must run, not skip", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def nginx_binary() -> str:
    if not os.access(NGINX, os.X_OK):
        _missing(f"no nginx at {NGINX}")
    return NGINX


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _stop(proc: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 25):
    """Stop a server we started, and its children if it does not stop in time."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        for pid in children:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.kill()
        proc.wait(10)


# -- the config under test ------------------------------------------------------------------------

def _sub(text: str, pattern: str, repl: str, count: int | None = 1) -> str:
    """Replace, insisting the production file still has what the rendering expects."""
    new, n = re.subn(pattern, repl, text, flags=re.M)
    assert n and (count is None or n == count), f"deploy/nginx.conf: expected {count or 'some'} of {pattern!r}, found {n}"
    return new


def render(conf: str, *, port: int, redirect_port: int, upstream_port: int, tmp: Path,
           cert: tuple[Path, Path] | None = None) -> str:
    """deploy/nginx.conf with the host-specific parts swapped for the test's; every directive
    that hardens it (timeouts, buffering, limits, log format, locations) stays as shipped."""
    conf = _sub(conf, r"^(\s*server) 127\.0\.0\.1:8000;", rf"\1 127.0.0.1:{upstream_port};")
    conf = _sub(conf, r"^(\s*listen) 80;", rf"\1 127.0.0.1:{redirect_port};")
    conf = _sub(conf, r"^(\s*listen) 443 ssl;", rf"\1 127.0.0.1:{port}{' ssl' if cert else ''};")
    conf = _sub(conf, r"^\s*listen \[::\]:(80|443 ssl);\n", "", count=2)
    if cert:
        conf = _sub(conf, r"^(\s*ssl_certificate)\s+\S+;", rf"\1 {cert[0]};")
        conf = _sub(conf, r"^(\s*ssl_certificate_key)\s+\S+;", rf"\1 {cert[1]};")
    else:
        conf = _sub(conf, r"^\s*ssl_\w+ .*\n", "", count=None)
    conf = _sub(conf, r"/var/log/nginx/", f"{tmp}/", count=None)
    conf = _sub(conf, r"root /var/www/letsencrypt;", f"root {tmp}/acme;")
    return conf


def main_conf(tmp: Path, site: Path) -> str:
    """The main config around it, shaped like Debian's /etc/nginx/nginx.conf (which includes
    conf.d/*.conf in http{}), down to its http-level access_log in the default format, which
    would log whole request lines if deploy/nginx.conf did not replace it."""
    user = f"user {pwd.getpwuid(os.getuid()).pw_name};" if os.geteuid() == 0 else ""
    temp = "\n".join(f"    {kind}_temp_path {tmp}/{kind}_temp;" for kind in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""{user}
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/main-error.log;
events {{
    worker_connections 1024;
}}
http {{
{temp}
    access_log {tmp}/default-access.log;
    include {site};
}}
"""


class Nginx:
    def __init__(self, binary: str, tmp: Path, upstream_port: int, cert=None):
        self.tmp = tmp
        self.port, self.redirect_port = _free_port(), _free_port()
        (tmp / "acme").mkdir(parents=True, exist_ok=True)
        site = tmp / "bangban.conf"
        site.write_text(render(PRODUCTION_CONF.read_text(encoding="utf-8"), port=self.port,
                               redirect_port=self.redirect_port, upstream_port=upstream_port, tmp=tmp,
                               cert=cert))
        self.conf = tmp / "nginx.conf"
        self.conf.write_text(main_conf(tmp, site))
        self.cmd = [binary, "-p", str(tmp), "-e", str(tmp / "main-error.log"), "-c", str(self.conf)]

    def check(self):
        out = subprocess.run([*self.cmd, "-t"], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr

    def __enter__(self):
        self.check()
        self.proc = subprocess.Popen([*self.cmd, "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

        def listening():
            assert self.proc.poll() is None, (self.tmp / "main-error.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        try:
            _wait(listening, 15, "nginx to listen")
        except BaseException:
            _stop(self.proc)
            raise
        return self

    def __exit__(self, *exc):
        _stop(self.proc, timeout=10)

    def log(self, name: str) -> str:
        path = self.tmp / name
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


# -- gunicorn, as shipped -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    """gunicorn -c gunicorn.conf.py webhook.wsgi:app with 2 workers x 4 threads (the shipped
    config's knobs, WEB_CONCURRENCY and GUNICORN_THREADS), on a tmp SQLite file, no Redis, and
    TRUSTED_PROXIES=1 as the README says for nginx in front."""
    from bot.platform.db import upgrade

    tmp = tmp_path_factory.mktemp("gunicorn")
    database_url = f"sqlite:///{tmp / 'bangban.sqlite3'}"
    upgrade(database_url)  # once, before two workers start on the same file
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "REDIS_", "DATABASE_"))
           and k not in ("BIND", "SECRET_KEY", "PUBLIC_URL", "TRUSTED_PROXIES", "SCHEDULER_IN_APP")}
    env.update(DATABASE_URL=database_url, WECHAT_TOKEN=TOKEN, TRUSTED_PROXIES="1",
               BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2", GUNICORN_THREADS="4")
    log = open(tmp / "gunicorn.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(REPO_ROOT / "gunicorn.conf.py"),
                             "webhook.wsgi:app"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        def ready():
            assert proc.poll() is None, (tmp / "gunicorn.log").read_text(errors="replace")[-3000:]
            try:
                return _get(port, "/readyz", timeout=2)[0] == 200
            except OSError:
                return False
        _wait(ready, 90, "gunicorn to be ready")
        yield SimpleNamespace(port=port, log=tmp / "gunicorn.log")
    finally:
        _stop(proc)
        log.close()


# -- clients ----------------------------------------------------------------------------------

def _connection(port: int, timeout: float, context: ssl.SSLContext | None = None):
    if context is not None:
        return http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context,
                                           source_address=(CLIENT_ADDR, 0))
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(CLIENT_ADDR, 0))


def _get(port: int, path: str, timeout: float = 5, context=None, headers=None) -> tuple[int, dict, bytes]:
    conn = _connection(port, timeout, context)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def _timed_get(port: int, path: str, timeout: float) -> tuple[float, int | None]:
    """(seconds, status) of one GET; status None when it got no answer within the timeout."""
    start = time.monotonic()
    try:
        status = _get(port, path, timeout)[0]
    except (TimeoutError, socket.timeout):
        status = None
    return time.monotonic() - start, status


def _say(port: int, text: str, timeout: float = 5) -> tuple[float, int, str]:
    """A signed /wechat text message as WeChat sends it: (seconds, status, reply content)."""
    cb = WeChatServer(TOKEN).callback(text_xml("oNginxTestUser", text))
    start = time.monotonic()
    conn = _connection(port, timeout)
    try:
        conn.request("POST", cb.path, body=cb.body, headers={"Content-Type": "text/xml"})
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    took = time.monotonic() - start
    content = reply_fields(body.decode("utf-8")).get("Content", "") if r.status == 200 and body else ""
    return took, r.status, content


HALF_HEADER = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow"
HALF_BODY = (b"POST /wechat?signature=0&timestamp=0&nonce=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             b"Content-Type: text/xml\r\nContent-Length: 4096\r\n\r\n<xml><ToUserName>")


def hold_half_open(port: int, n: int = ATTACKERS) -> tuple[list[socket.socket], list[socket.socket]]:
    """n connections from 127.0.0.1, kept open: half of them stop in the middle of the headers,
    the other half send complete headers and 17 bytes of a 4 KiB body. (half-header, half-body)."""
    heads, bodies = [], []
    try:
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(HALF_HEADER if i % 2 == 0 else HALF_BODY)
            (heads if i % 2 == 0 else bodies).append(s)
    except BaseException:
        _close(heads + bodies)
        raise
    return heads, bodies


def _close(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def _answered(s: socket.socket) -> bytes | None:
    """What the server sent on a held connection: None while it is open and silent, b"" once
    closed without a word, else the bytes it sent."""
    if not select.select([s], [], [], 0)[0]:
        return None
    try:
        return s.recv(4096)
    except ConnectionError:
        return b""


# -- the tests --------------------------------------------------------------------------------

def test_half_open_connections_do_not_starve_the_bot_behind_nginx(nginx_binary, gunicorn, tmp_path):
    """150 half-open connections to nginx: /healthz and a signed WeChat message still answer
    at once; the attacker's half-sent bodies beyond its per-address limit get 429; nginx drops
    them all at its 10 s client timeouts; no access log line carries a query string."""
    conf = PRODUCTION_CONF.read_text(encoding="utf-8")
    wechat_conns = int(re.search(r"location = /wechat \{[^}]*?limit_conn bangban_conn (\d+);", conf).group(1))
    with Nginx(nginx_binary, tmp_path, gunicorn.port) as nginx:
        assert _say(nginx.port, "代办要收费吗")[1] == 200  # the path works before the attack
        heads, bodies = hold_half_open(nginx.port)
        opened = time.monotonic()
        try:
            time.sleep(0.5)  # let nginx read every one of them
            health_s, health = _timed_get(nginx.port, "/healthz", timeout=5)
            ready_s, ready = _timed_get(nginx.port, "/readyz", timeout=5)
            wechat_s, wechat, content = _say(nginx.port, "施工许可证要准备哪些材料")
            print(f"\nvia nginx, {ATTACKERS} half-open held: /healthz {health_s * 1000:.0f} ms, "
                  f"/readyz {ready_s * 1000:.0f} ms, /wechat {wechat_s * 1000:.0f} ms")
            assert health == 200 and health_s < 3, (health, health_s)
            assert ready == 200 and ready_s < 3, (ready, ready_s)
            assert wechat == 200 and content and wechat_s < 4, (wechat, wechat_s)
            assert time.monotonic() - opened < 9, "the measurement outlasted the attack (client timeouts are 10 s)"

            # Held while measured: the half-sent headers are still open and unanswered (nginx
            # cannot tell them from a slow client yet); of the half-sent bodies, the attacker's
            # first `wechat_conns` are held and the rest were refused at its per-address limit.
            early = {id(s): _answered(s) for s in heads + bodies}
            assert all(early[id(s)] is None for s in heads), "a half-sent header was answered early"
            refused = [s for s in bodies if early[id(s)] is not None]
            assert all(early[id(s)].startswith(b"HTTP/1.1 429") for s in refused), [early[id(s)][:40] for s in refused]
            assert len(refused) == max(0, len(bodies) - wechat_conns), (len(refused), len(bodies))

            # ... and then nginx lets go of every one of them by itself: client timeouts are short.
            def all_dropped():
                for s in heads + bodies:
                    if early[id(s)] is None and _answered(s) is not None:
                        early[id(s)] = b"closed"
                return all(v is not None for v in early.values())
            _wait(all_dropped, 15 - (time.monotonic() - opened), "nginx to drop the half-open connections")
            print(f"nginx dropped all {ATTACKERS} after {time.monotonic() - opened:.1f} s")
        finally:
            _close(heads + bodies)
        assert _get(nginx.port, "/healthz")[0] == 200
        time.sleep(0.3)  # access log lines are written as each request ends
        access = nginx.log("bangban.access.log")
    # Every request is logged by its path: the real message, the refused and the timed-out ones
    # (their query had signature/timestamp/nonce), in no log at all.
    for line in ('"POST /wechat HTTP/1.1" 200', '"POST /wechat HTTP/1.1" 429', '"POST /wechat HTTP/1.1" 408',
                 '"GET /healthz HTTP/1.1" 408'):
        assert line in access, (line, access[-2000:])
    for log in ("bangban.access.log", "default-access.log", "bangban.error.log", "main-error.log"):
        for leak in ("signature=", "timestamp=", "nonce="):
            assert leak not in nginx.log(log), f"{leak} in {log}"


def test_the_same_attack_straight_at_gunicorn_starves_it(gunicorn):
    """The control: without nginx the 150 half-open connections hold every gunicorn thread, and
    /healthz gets no answer until they let go; then gunicorn is well again. (Should a gunicorn
    release stop this, this assert fails: record that here and drop it, nginx stays useful.)"""
    heads, bodies = hold_half_open(gunicorn.port)
    try:
        time.sleep(0.5)
        starved_s, status = _timed_get(gunicorn.port, "/healthz", timeout=5)
        print(f"\ndirect to gunicorn, {ATTACKERS} half-open held: /healthz {status or 'no answer'} "
              f"after {starved_s:.1f} s")
        assert status is None, f"gunicorn answered /healthz in {starved_s:.2f} s under the attack"
    finally:
        _close(heads + bodies)
    took, status = 0.0, None
    deadline = time.monotonic() + 20
    while status != 200 and time.monotonic() < deadline:
        took, status = _timed_get(gunicorn.port, "/healthz", timeout=5)
    assert status == 200, "gunicorn did not recover once the attackers let go"
    print(f"after they let go: /healthz {took * 1000:.0f} ms")


def test_tls_server_and_plain_http_redirect_as_shipped(nginx_binary, gunicorn, tmp_path):
    """The shipped file with TLS on (a throwaway self-signed certificate in place of the
    placeholders): /healthz answers over HTTPS with HSTS, and the app (TRUSTED_PROXIES=1) sees
    the client's own address, not one the client claimed in X-Forwarded-For; port 80 only
    redirects, and its log line has no query either."""
    if not shutil.which("openssl"):
        _missing("no openssl to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                    "-days", "1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with Nginx(nginx_binary, tmp_path, gunicorn.port, cert=(cert, key)) as nginx:
        status, headers, body = _get(nginx.port, "/healthz", context=context)
        assert status == 200 and b"ok" in body
        assert "max-age" in headers.get("Strict-Transport-Security", "")
        # gunicorn logs REMOTE_ADDR as the app sees it (ProxyFix rewrites it from X-Forwarded-For).
        forged = {"X-Forwarded-For": "203.0.113.9", "User-Agent": "nginx-test-xff"}
        assert _get(nginx.port, "/healthz", context=context, headers=forged)[0] == 200
        def logged():
            return [l for l in gunicorn.log.read_text(errors="replace").splitlines() if "nginx-test-xff" in l]
        _wait(logged, 5, "gunicorn's access log line")
        assert all(l.startswith(CLIENT_ADDR + " ") for l in logged()), logged()
        assert "203.0.113.9" not in gunicorn.log.read_text(errors="replace")
        assert _get(nginx.port, "/nothing-of-ours", context=context)[0] == 404
        status, headers, _ = _get(nginx.redirect_port, "/wechat?signature=abc&timestamp=1&nonce=2")
        assert status == 301 and headers["Location"].startswith("https://")
        assert headers["Location"].endswith("/wechat?signature=abc&timestamp=1&nonce=2")
        time.sleep(0.3)
        access = nginx.log("bangban.access.log")
    assert '"GET /wechat HTTP/1.1" 301' in access, access
    assert "signature=" not in access


def test_the_site_icon_and_nginx_own_answers_through_nginx(nginx_binary, gunicorn, tmp_path):
    """/favicon.ico reaches the app (webhook/pages.py serves a real icon: every browser asks for
    it on every page); what nginx answers itself reads in Chinese with nginx's status (an unknown
    path, a body over the limit, the app down), and the app's own Chinese 404 passes through."""
    icon = (REPO_ROOT / "webhook" / "favicon.ico").read_bytes()
    with Nginx(nginx_binary, tmp_path, gunicorn.port) as nginx:
        status, headers, body = _get(nginx.port, "/favicon.ico")
        assert status == 200 and headers["Content-Type"] == "image/x-icon", (status, headers)
        assert body == icon and body[:4] == b"\x00\x00\x01\x00"  # an ICO file, as the app serves it
        assert "max-age" in headers.get("Cache-Control", "")

        status, headers, body = _get(nginx.port, "/nothing-of-ours")  # never passed to the app
        assert status == 404 and headers["Content-Type"] == "text/plain; charset=utf-8"
        assert body.decode("utf-8") == "没有找到您要访问的页面，请检查地址是否正确。\n"
        status, _, body = _get(nginx.port, "/console/no-such-page")  # the app's own 404, untouched
        assert status == 404 and "没有找到" in body.decode("utf-8") and b"nginx" not in body
        status, _, body = _get(nginx.port, "/_bangban_error/404")  # the error pages are internal
        assert status == 404 and "没有找到" in body.decode("utf-8")

        conn = _connection(nginx.port, 5)
        try:
            conn.request("POST", "/console/login", body=b"x" * (65 * 1024),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            r = conn.getresponse()
            assert r.status == 413 and "提交的内容过大" in r.read().decode("utf-8")
        finally:
            conn.close()
        time.sleep(0.3)
        access = nginx.log("bangban.access.log")
    # Logged by the path asked for, not the error page's: "/_bangban_error/404" is nobody's request.
    for line in ('"GET /favicon.ico HTTP/1.1" 200', '"GET /nothing-of-ours HTTP/1.1" 404',
                 '"POST /console/login HTTP/1.1" 413'):
        assert line in access, (line, access)
    # The app down: nginx's 502, in Chinese.
    with Nginx(nginx_binary, tmp_path / "down", _free_port()) as nginx:
        status, _, body = _get(nginx.port, "/healthz")
        assert status == 502 and body.decode("utf-8").startswith("系统暂时无法访问")
