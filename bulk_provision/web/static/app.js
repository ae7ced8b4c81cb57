// bulk-provision page: upload checks, drag and drop, the Start toggle, live run progress, the
// Columns step's preview.
// Plain JavaScript, no inline script (the Content-Security-Policy forbids it).
"use strict";

function setupUpload() {
  var form = document.getElementById("upload-form");
  if (!form) return;
  var input = document.getElementById("roster-file");
  var zone = document.getElementById("drop-zone");
  var error = document.getElementById("upload-error");
  var limit = Number(form.dataset.maxUpload || 0);
  function show(message) {
    error.textContent = message;
    error.hidden = !message;
  }
  form.addEventListener("submit", function (event) {
    var file = input.files && input.files[0];
    if (!file) { event.preventDefault(); show("Choose a roster file (Excel or CSV) first."); return; }
    if (limit && file.size > limit) {
      event.preventDefault();
      show("The file is larger than this server accepts (" + (limit / 1e6) + " MB). Split the " +
           "roster into smaller files, or ask IT to start the page with a larger --max-upload.");
    }
  });
  input.addEventListener("change", function () { show(""); });
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      show("");
    }
  });
}

// Suspensions need their number typed before Start (the server checks it again).
function setupTypedConfirm() {
  var form = document.getElementById("start-form");
  var typed = document.getElementById("confirm");
  if (!form || !typed) return;
  var start = document.getElementById("start");
  var wanted = form.dataset.confirmCount;
  start.disabled = typed.value.trim() !== wanted;  // without script, the server checks it
  typed.addEventListener("input", function () { start.disabled = typed.value.trim() !== wanted; });
}

function text(id, value) {
  var node = document.getElementById(id);
  if (node) node.textContent = value;
}

function fillList(id, items) {
  var list = document.getElementById(id);
  if (!list) return;
  list.textContent = "";
  items.forEach(function (item) {
    var li = document.createElement("li");
    li.textContent = item;
    list.appendChild(li);
  });
}

function render(snap) {
  var bar = document.getElementById("bar");
  bar.value = snap.percent;
  bar.textContent = snap.percent + "%";
  var state = snap.ending + (snap.position ? " (number " + snap.position + " in the queue)" : "") +
              (snap.message ? ": " + snap.message : "");
  text("state", state);
  text("numbers", snap.done + " of " + snap.total + " done · " + snap.rate + " rows/s" +
       (snap.eta ? " · about " + snap.eta + " s left" : "") + " · " + snap.retrying + " retrying");
  var body = document.querySelector("#counts tbody");
  body.textContent = "";
  snap.shown.forEach(function (pair) {
    var row = document.createElement("tr");
    [pair[0], String(pair[1])].forEach(function (value) {
      var cell = document.createElement("td");
      cell.textContent = value;
      row.appendChild(cell);
    });
    body.appendChild(row);
  });
  fillList("notices", snap.notices);
  fillList("failures", snap.failures.map(function (f) {
    return "Row " + f.row + " (Employee ID " + f.key + "): " + f.outcome + ": " + f.message;
  }));
  document.getElementById("failures-box").hidden = snap.failures.length === 0;
}

function setupRun() {
  var box = document.getElementById("run");
  if (!box || box.dataset.active !== "1" || !window.EventSource) return;
  var source = new EventSource(box.dataset.events);
  source.onmessage = function (event) { render(JSON.parse(event.data)); };
  source.onerror = function () {
    // The server restarted (its sessions with it) or went away: reload, which shows the run
    // as the server now sees it, or the sign-in page.
    if (source.readyState === EventSource.CLOSED) {
      window.setTimeout(function () { window.location.reload(); }, 2000);
    }
  };
  source.addEventListener("end", function () {
    source.close();
    window.location.reload();  // the finished page, with its downloads, from the server
  });
}

function setupLink() {
  // the one-time link's page: continue at once with a same-site POST (see signin.py)
  var form = document.getElementById("link-form");
  if (form && form.dataset.autosubmit === "1") form.submit();
}

function setupConfirm() {
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
}

// The Columns step: the preview follows the choices as they are made. The server computes it
// (the same code as a run); changing the status or role column redraws the form (its values).
function setupColumns() {
  var form = document.getElementById("columns-form");
  if (!form) return;
  var target = document.getElementById("recipe-preview");
  var timer = null;
  var asked = 0;
  function refresh() {
    var mine = ++asked;
    var data = new FormData(form);
    fetch(form.dataset.preview, {method: "POST", body: data, credentials: "same-origin"})
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (html !== null && mine === asked) {
          target.innerHTML = html;  // server-rendered and escaped (Jinja autoescape)
        }
      })
      .catch(function () { /* the Update preview button still works */ });
  }
  form.addEventListener("input", function (event) {
    if (event.target.dataset && event.target.dataset.refresh) return;
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 350);
  });
  form.querySelectorAll("[data-refresh]").forEach(function (select) {
    select.addEventListener("change", function () {
      document.getElementById("update-preview").click();
    });
  });
}

// Times the server recorded in UTC, shown in the browser's own time zone.
function setupTimes() {
  document.querySelectorAll("time.local").forEach(function (node) {
    var moment = new Date(node.getAttribute("datetime"));
    if (isNaN(moment.getTime())) return;
    node.title = node.textContent;
    node.textContent = moment.toLocaleString([], {dateStyle: "medium", timeStyle: "short"});
  });
}

document.addEventListener("DOMContentLoaded", function () {
  setupTimes();
  setupColumns();
  setupLink();
  setupConfirm();
  setupUpload();
  setupTypedConfirm();
  setupRun();
});
