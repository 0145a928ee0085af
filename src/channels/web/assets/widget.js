// billbot's widget: <script src="https://bot.example.sn/widget.js" defer></script> adds a button
// that opens the chat in a panel. The chat is the page itself in a frame, and the button lives in
// a shadow root: the host page's styles reach neither.
"use strict";
(function () {
  var script = document.currentScript;
  var origin = new URL(script.src).origin;
  var fr = (navigator.language || "").toLowerCase().indexOf("fr") === 0;
  var ALL = {{STRINGS}};
  var label = fr ? ALL.fr : ALL.en;
  var host = document.createElement("div");
  host.id = "billbot-widget";
  var root = host.attachShadow({ mode: "open" });
  var style = document.createElement("style");
  style.textContent =
    ":host{all:initial}" +
    ".open{position:fixed;right:16px;bottom:16px;z-index:2147483647;font:16px/1.2 system-ui,sans-serif;" +
    "background:#0b4f8a;color:#fff;border:0;border-radius:24px;padding:12px 18px;cursor:pointer}" +
    ".open:focus-visible{outline:3px solid #e08a00;outline-offset:2px}" +
    ".panel{position:fixed;right:16px;bottom:72px;z-index:2147483647;width:min(380px,calc(100vw - 32px));" +
    "height:min(600px,calc(100vh - 96px));border:1px solid #8a96a3;border-radius:12px;background:#fff;" +
    "box-shadow:0 4px 24px rgba(0,0,0,.25)}" +
    ".panel[hidden]{display:none}";
  var button = document.createElement("button");
  button.type = "button";
  button.className = "open";
  button.textContent = label.open;
  button.setAttribute("aria-expanded", "false");
  var frame = document.createElement("iframe");
  frame.className = "panel";
  frame.title = label.open;
  frame.hidden = true;
  button.addEventListener("click", function () {
    if (!frame.src) frame.src = origin + "/";
    frame.hidden = !frame.hidden;
    button.textContent = frame.hidden ? label.open : label.close;
    button.setAttribute("aria-expanded", String(!frame.hidden));
    if (!frame.hidden) frame.focus();
  });
  root.appendChild(style);
  root.appendChild(frame);
  root.appendChild(button);
  document.body.appendChild(host);
})();
