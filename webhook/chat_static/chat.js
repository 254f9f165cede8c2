// 帮办通 web chat: plain JS and fetch; every message goes in as text (textContent), never as HTML.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("input");
  var send = document.getElementById("send");
  var token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var api = form.getAttribute("data-api");
  var busy = false;

  function bubble(who, text, extra) {
    var row = document.createElement("div");
    row.className = "msg " + who + (extra ? " " + extra : "");
    var avatar = document.createElement("div");
    avatar.className = "avatar";
    avatar.setAttribute("aria-hidden", "true");
    avatar.textContent = who === "user" ? "我" : "帮";
    var body = document.createElement("div");
    body.className = "bubble";
    body.textContent = text;  // line breaks kept by CSS white-space: pre-wrap
    row.appendChild(avatar);
    row.appendChild(body);
    log.appendChild(row);
    log.scrollTop = log.scrollHeight;
    return row;
  }

  function ask(text) {
    if (busy) return;
    if (!text.trim()) { input.focus(); return; }
    busy = true;
    send.disabled = true;
    bubble("user", text);
    var waiting = bubble("bot", "正在输入…", "pending");
    fetch(api, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": token},
      body: JSON.stringify({text: text})
    }).then(function (res) {
      return res.json().catch(function () { return {reply: "服务暂时不可用，请稍后再试。"}; })
        .then(function (data) { return {ok: res.ok, data: data}; });
    }).then(function (r) {
      waiting.remove();
      bubble("bot", r.data.reply || "服务暂时不可用，请稍后再试。", r.ok ? "" : "error");
    }).catch(function () {
      waiting.remove();
      bubble("bot", "网络不太稳定，消息没有发出去，请稍后重试。", "error");
    }).then(function () {
      busy = false;
      send.disabled = false;
    });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value;
    input.value = "";
    ask(text);
    input.focus();
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
    }
  });
  Array.prototype.forEach.call(document.querySelectorAll(".chip"), function (chip) {
    chip.addEventListener("click", function () { ask(chip.getAttribute("data-text")); });
  });

  // Pushes the account sent this visitor (only with the local WeChat emulator: data-pushes is
  // set then). A template message is drawn as WeChat draws one: a card, its title and fields.
  var pushes = log.getAttribute("data-pushes");
  var lastPush = 0;
  var PUSH_POLL_MS = 3000;

  function card(push) {
    var row = bubble("bot", "", "push");
    var body = row.querySelector(".bubble");
    if (push.kind === "text") {
      body.textContent = push.text;
      return;
    }
    body.classList.add("card");
    var title = document.createElement("div");
    title.className = "card-title";
    title.textContent = push.title;
    body.appendChild(title);
    (push.lines || []).forEach(function (line) {
      var p = document.createElement("div");
      p.className = "card-line";
      p.textContent = line;
      body.appendChild(p);
    });
  }

  function poll() {
    fetch(pushes + "?after=" + lastPush, {credentials: "same-origin"}).then(function (res) {
      return res.ok ? res.json() : {available: true, pushes: []};
    }).then(function (data) {
      (data.pushes || []).forEach(function (push) {
        lastPush = Math.max(lastPush, push.msgid);
        card(push);
      });
      if (data.available !== false) setTimeout(poll, PUSH_POLL_MS);
    }).catch(function () { setTimeout(poll, PUSH_POLL_MS * 3); });
  }
  if (pushes) poll();
})();
