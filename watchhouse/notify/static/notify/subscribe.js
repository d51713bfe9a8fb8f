// The subscribe page: address suggestions from the agency's address search (the form works
// without them: the server looks the address up), and Web Push where the browser supports it.
(function () {
  "use strict";
  var form = document.getElementById("subscribe-form");
  if (!form) return;

  // --- address suggestions -------------------------------------------------------------
  var address = form.querySelector("input[name=address]");
  var options = document.getElementById("address-options");
  var latField = form.querySelector("input[name=lat]");
  var lonField = form.querySelector("input[name=lon]");
  if (address && options && form.dataset.geocode && window.fetch) {
    var found = {};
    var timer = null;
    var asked = "";
    address.addEventListener("input", function () {
      var query = address.value.trim();
      if (found[query]) {
        latField.value = found[query].lat;
        lonField.value = found[query].lon;
        latField.dataset.fromAddress = "1";
        return;
      }
      if (latField.dataset.fromAddress) {
        latField.value = "";
        lonField.value = "";
        delete latField.dataset.fromAddress;
      }
      clearTimeout(timer);
      if (query.length < 3 || query === asked) return;
      timer = setTimeout(function () {
        asked = query;
        fetch(form.dataset.geocode + "?q=" + encodeURIComponent(query), {
          headers: { Accept: "application/json" }
        })
          .then(function (response) { return response.ok ? response.json() : { results: [] }; })
          .then(function (data) {
            found = {};
            while (options.firstChild) options.removeChild(options.firstChild);
            data.results.forEach(function (result) {
              found[result.label] = result;
              var option = document.createElement("option");
              option.value = result.label;
              options.appendChild(option);
            });
            var exact = found[address.value.trim()];
            if (exact) {
              latField.value = exact.lat;
              lonField.value = exact.lon;
              latField.dataset.fromAddress = "1";
            }
          })
          .catch(function () { /* the server looks the address up on submit */ });
      }, 250);
    });
  }

  // --- Web Push --------------------------------------------------------------------------
  if (!form.dataset.vapidKey || !("serviceWorker" in navigator) || !("PushManager" in window)) {
    return;
  }
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
