// billbot's web chat. Every value from the server is put in the page as text (textContent),
// never as HTML.
"use strict";
(function () {
  var ALL = JSON.parse(document.getElementById("strings").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var lang = localStorage.getItem("billbot.lang") ||
    ((navigator.language || "").toLowerCase().indexOf("fr") === 0 ? "fr" : "en");
  var S = ALL[lang] || ALL.en;
  var token = localStorage.getItem("billbot.token");
  var session = null, last = 0, retry = 0, lost = false, seenUsers = {}, typingTimer = null;

  function words() {
    document.documentElement.lang = lang;
    document.title = S.title;
    $("title").textContent = S.title;
    $("new").textContent = S["new"];
    $("log").setAttribute("aria-label", S.log);
    $("input-label").textContent = S.input;
    $("input").placeholder = S.placeholder;
    $("send").textContent = S.send;
    $("typing").textContent = S.typing;
  }

  function status(text) { $("status").textContent = text || ""; }

  function typing(on) {
    clearTimeout(typingTimer);
    $("typing").hidden = !on;
    if (on) typingTimer = setTimeout(function () { typing(false); }, 30000);
  }

  function time(at) {
    var t = document.createElement("time");
    var d = at ? new Date(at) : new Date();
    t.dateTime = d.toISOString();
    t.textContent = d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
    return t;
  }

  function scroll() { var log = $("log"); log.scrollTop = log.scrollHeight; }

  function userBubble(id, text, at, pending) {
    var b = document.createElement("div");
    b.className = "msg user" + (pending ? " pending" : "");
    b.dataset.id = id;
    var who = document.createElement("span");
    who.className = "visually-hidden";
    who.textContent = S.you + ": ";
    b.appendChild(who);
    b.appendChild(document.createTextNode(text));
    b.appendChild(time(at));
    $("log").appendChild(b);
    scroll();
    return b;
  }

  function botBubble(m, at) {
    var b = document.createElement("div");
    b.className = "msg bot";
    var who = document.createElement("span");
    who.className = "visually-hidden";
    who.textContent = S.bot + ": ";
    b.appendChild(who);
    var title = document.createElement("strong");
    title.textContent = m.title;
    b.appendChild(title);
    if (m.body) b.appendChild(document.createTextNode(m.body));
    b.appendChild(time(at));
    (m.buttons || []).forEach(function (row) {
      var group = document.createElement("div");
      group.className = "choices";
      group.setAttribute("role", "group");
      row.forEach(function (choice) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = choice.label;
        button.addEventListener("click", function () { press(choice, b); });
        group.appendChild(button);
      });
      b.appendChild(group);
    });
    $("log").appendChild(b);
    typing(false);
    scroll();
  }

  function show(seq, at, line) {
    if (seq <= last) return;
    last = seq;
    if (line.from === "user") {
      if (seenUsers[line.id]) return;
      seenUsers[line.id] = true;
      var mine = $("log").querySelector('.msg.user[data-id="' + line.id + '"]');
      if (mine) { mine.classList.remove("pending"); return; }
      userBubble(line.id, line.text, at, false);
    } else {
      // The page's own words follow the language the bot speaks in (its /lang or Language button).
      if ((line.lang === "fr" || line.lang === "en") && line.lang !== lang) {
        lang = line.lang; S = ALL[lang]; localStorage.setItem("billbot.lang", lang); words();
      }
      botBubble(line, at);
    }
  }

  function newId() {
    var bytes = new Uint8Array(9);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  var refusedUntil = 0;

  // `undo` gives the user back what they sent when it was not taken: the typed text in the box,
  // or the buttons pressed.
  function post(body, bubble, undo) {
    body.lang = lang === "fr" ? "fr" : (navigator.language || "en");
    function refused(words, kept) {
      status(words);
      // Left up a moment, even if an earlier message's 202 comes after.
      refusedUntil = Date.now() + 5000;
      if (undo) undo();
      if (!bubble) return;
      // Dropped for sending too fast: the bubble stays, struck through (the bot may answer it
      // with "slow down"). Not sent at all: it goes.
      if (kept) { bubble.classList.remove("pending"); bubble.classList.add("refused"); } else bubble.remove();
    }
    return fetch("/api/send", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token },
      body: JSON.stringify(body)
    }).then(function (r) {
      if (r.status === 202) { typing(true); if (Date.now() > refusedUntil) status(""); return; }
      if (r.status === 413) refused(S["too-long"]);
      else if (r.status === 429) refused(S["too-fast"], true);
      else refused(S.failed);
      if (r.status === 401) begin(false);
    }, function () { refused(S.failed); });
  }

  function press(choice, from) {
    var buttons = from.querySelectorAll(".choices button");
    buttons.forEach(function (b) { b.disabled = true; });
    var id = newId();
    var bubble = userBubble(id, choice.label, null, true);
    post({ id: id, payload: choice.payload, label: choice.label }, bubble, function () {
      buttons.forEach(function (b) { b.disabled = false; });
    });
  }

  function send(event) {
    event.preventDefault();
    var input = $("input");
    var text = input.value.trim();
    if (!text) return;
    if (text.length > 2000) { status(S["too-long"]); return; }
    var id = newId();
    var bubble = userBubble(id, text, null, true);
    input.value = "";
    post({ id: id, text: text }, bubble, function () { if (!input.value) input.value = text; });
  }

  function listen() {
    var asked = session;
    fetch("/api/events", { headers: { "Authorization": "Bearer " + token, "Last-Event-ID": String(last) } })
      .then(function (r) {
        if (r.status === 401) { begin(false); return; }
        if (!r.ok || !r.body) throw new Error("status " + r.status);
        if (lost) { lost = false; status(S.restored); setTimeout(function () { if (!lost) status(""); }, 3000); }
        retry = 0;
        var reader = r.body.getReader(), decoder = new TextDecoder(), buffer = "";
        function read() {
          return reader.read().then(function (chunk) {
            if (chunk.done) return;
            buffer += decoder.decode(chunk.value, { stream: true });
            var parts = buffer.split("\n\n");
            buffer = parts.pop();
            parts.forEach(function (part) {
              var id = null, data = "";
              part.split("\n").forEach(function (l) {
                if (l.indexOf("id:") === 0) id = Number(l.slice(3).trim());
                else if (l.indexOf("data:") === 0) data += l.slice(5).replace(/^ /, "");
              });
              if (id !== null && data && asked === session) {
                var event = JSON.parse(data);
                show(id, event.at, event.line);
              }
            });
            return read();
          });
        }
        return read();
      })
      .then(function () { if (asked === session) listen(); }, function () {
        if (asked !== session) return;
        lost = true;
        status(S.lost);
        retry = Math.min(retry ? retry * 2 : 1000, 30000);
        setTimeout(listen, retry);
      });
  }

  function begin(keep) {
    fetch("/api/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(keep && token ? { token: token } : {})
    }).then(function (r) { return r.json(); }).then(function (s) {
      if (s.session !== session) { last = 0; seenUsers = {}; $("log").textContent = ""; }
      session = s.session;
      token = s.token;
      localStorage.setItem("billbot.token", token);
      listen();
    }, function () {
      lost = true;
      status(S.lost);
      retry = Math.min(retry ? retry * 2 : 1000, 30000);
      setTimeout(function () { begin(keep); }, retry);
    });
  }

  words();
  $("form").addEventListener("submit", send);
  $("new").addEventListener("click", function () { localStorage.removeItem("billbot.token"); token = null; begin(false); });
  begin(true);
})();
