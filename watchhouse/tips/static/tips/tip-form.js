// The tip form works without this: it only offers to fill in the map point from the device's
// own location (nothing leaves the page until the form is sent).
(function () {
  "use strict";
  var button = document.getElementById("use-location");
  var lat = document.getElementById("id_lat");
  var lon = document.getElementById("id_lon");
  var status = document.getElementById("location-status");
  if (!button || !lat || !lon || !("geolocation" in navigator)) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    status.textContent = button.dataset.busy;
    navigator.geolocation.getCurrentPosition(
      function (position) {
        lat.value = position.coords.latitude.toFixed(6);
        lon.value = position.coords.longitude.toFixed(6);
        status.textContent = button.dataset.done;
      },
      function () {
        status.textContent = button.dataset.failed;
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  });
})();
