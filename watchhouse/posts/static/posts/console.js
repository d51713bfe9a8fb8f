// The posts console: show only the fields of the chosen kind, upload with a progress bar,
// then follow the worker's processing. Without this script every field shows and the
// upload is a plain form post.
(function () {
  "use strict";

  function kindFields() {
    var form = document.getElementById("post-composer");
    if (!form) return;
    var kind = form.querySelector("[name=kind]");
    function update() {
      form.querySelectorAll("[data-kinds]").forEach(function (p) {
        p.hidden = p.dataset.kinds.split(" ").indexOf(kind.value) < 0;
      });
    }
    kind.addEventListener("change", update);
    update();
  }

  function follow(statusUrl, bar, label, done) {
    function poll() {
      fetch(statusUrl, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          bar.hidden = false;
          bar.value = s.progress;
          label.textContent = s.label + (s.error ? ": " + s.error : "") +
            (s.status === "processing" ? " " + Math.round(s.progress * 100) + "%" : "");
          if (s.status === "uploaded" || s.status === "processing") {
            setTimeout(poll, 1000);
          } else if (done) {
            done(s);
          }
        })
        .catch(function () { setTimeout(poll, 3000); });
    }
    poll();
  }

  function upload() {
    var form = document.getElementById("media-upload");
    if (!form || !window.FormData) return;
    var bar = document.getElementById("upload-progress");
    var label = document.getElementById("upload-status");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        bar.hidden = false;
        bar.value = e.loaded / e.total;
        label.textContent = form.dataset.uploading + " " + Math.round(100 * e.loaded / e.total) + "%";
      });
      xhr.addEventListener("load", function () {
        var answer = {};
        try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = { error: xhr.statusText }; }
        if (xhr.status !== 200) { label.textContent = answer.error || xhr.statusText; return; }
        label.textContent = form.dataset.processing;
        follow(answer.status_url, bar, label, function () { window.location.href = answer.url; });
      });
      xhr.addEventListener("error", function () { label.textContent = xhr.statusText || "Error"; });
      xhr.send(new FormData(form));
    });
  }

  function processing() {
    var state = document.getElementById("media-state");
    if (!state || !state.dataset.busy) return;
    follow(state.dataset.statusUrl, document.getElementById("media-progress"),
      document.getElementById("media-status"), function () { window.location.reload(); });
  }

  kindFields();
  upload();
  processing();
})();
