// Web Push on the subscribe page: offers browser notifications where the browser supports
// them, and puts the browser's push subscription into the form before it is sent.
(function () {
  "use strict";
  var form = document.getElementById("subscribe-form");
  if (!form || !("serviceWorker" in navigator) || !("PushManager" in window)) return;
  var option = form.querySelector(".push-option");
  var toggle = document.getElementById("push-toggle");
  var field = form.querySelector("input[name=push_subscription]");
  option.hidden = false;

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4))
      .replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  form.addEventListener("submit", function (event) {
    if (!toggle.checked || field.value) return;
    event.preventDefault();
    navigator.serviceWorker.register(form.dataset.worker, { scope: "/" })
      .then(function () { return navigator.serviceWorker.ready; })
      .then(function (registration) {
        return registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: keyBytes(form.dataset.vapidKey)
        });
      })
      .then(function (subscription) {
        field.value = JSON.stringify(subscription.toJSON());
        form.submit();
      })
      .catch(function () {
        toggle.checked = false;
        form.submit();
      });
  });
})();
