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
})();
