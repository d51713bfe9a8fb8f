// The tip form works without this. It adds a map of the jurisdiction's areas (no base map:
// nothing is loaded from another site) where a tap sets the map point, and offers to fill in
// the point from the device's own location. Nothing leaves the page until the form is sent.
(function () {
  "use strict";
  var lat = document.getElementById("id_lat");
  var lon = document.getElementById("id_lon");
  if (!lat || !lon) {
    return;
  }
  var marker = null;
  var map = null;

  function show(latitude, longitude) {
    if (!map) {
      return;
    }
    var where = [latitude, longitude];
    if (marker) {
      marker.setLatLng(where);
    } else {
      marker = L.circleMarker(where, { radius: 8, weight: 3, className: "tip-point" }).addTo(map);
    }
  }

  function set(latitude, longitude) {
    lat.value = latitude.toFixed(6);
    lon.value = longitude.toFixed(6);
    show(latitude, longitude);
  }

  var box = document.getElementById("tip-map");
  var bounds = box ? (box.dataset.bounds || "").split(",").map(Number) : [];
  if (box && typeof L !== "undefined" && bounds.length === 4 && bounds.every(isFinite)) {
    box.hidden = false;
    map = L.map(box, { zoomSnap: 1, minZoom: 9, maxZoom: 18 });
    map.attributionControl.setPrefix("Leaflet");
    map.fitBounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]]);
    fetch(box.dataset.boundaries, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (areas) {
        if (!areas) {
          return;
        }
        L.geoJSON(areas, {
          style: function () {
            return { className: "tip-area", weight: 1.5, fill: true, fillOpacity: 0.05 };
          },
          onEachFeature: function (feature, layer) {
            layer.bindTooltip(feature.properties.name, { sticky: true });
            layer.on("click", function (event) { set(event.latlng.lat, event.latlng.lng); });
          }
        }).addTo(map);
      })
      .catch(function () { /* the number boxes still work */ });
    map.on("click", function (event) { set(event.latlng.lat, event.latlng.lng); });
    var typed = function () {
      var a = parseFloat(lat.value);
      var b = parseFloat(lon.value);
      if (isFinite(a) && isFinite(b)) {
        show(a, b);
      }
    };
    lat.addEventListener("change", typed);
    lon.addEventListener("change", typed);
    typed();
    // A map drawn inside a closed <details> has no size until it opens.
    var details = box.closest("details");
    if (details) {
      details.addEventListener("toggle", function () { map.invalidateSize(); });
    }
  }

  var button = document.getElementById("use-location");
  var status = document.getElementById("location-status");
  if (!button || !("geolocation" in navigator)) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    status.textContent = button.dataset.busy;
    navigator.geolocation.getCurrentPosition(
      function (position) {
        set(position.coords.latitude, position.coords.longitude);
        if (map) {
          map.setView([position.coords.latitude, position.coords.longitude], 16);
        }
        status.textContent = button.dataset.done;
      },
      function () {
        status.textContent = button.dataset.failed;
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  });
})();
