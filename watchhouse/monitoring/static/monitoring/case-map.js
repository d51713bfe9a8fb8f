// The case page works without this: the table of places lists every place. This adds a map of
// the same places (the project's own Leaflet; a base map only when the agency configured tiles).
(function () {
  "use strict";
  var box = document.getElementById("case-map");
  var data = document.getElementById("case-places");
  if (!box || !data || typeof L === "undefined") {
    return;
  }
  var places = JSON.parse(data.textContent);
  if (!places.features || !places.features.length) {
    return;
  }
  box.hidden = false;
  box.style.height = "24rem";
  var map = L.map(box, { zoomSnap: 1, maxZoom: 18 });
  map.attributionControl.setPrefix("Leaflet");
  if (box.dataset.tiles) {
    L.tileLayer(box.dataset.tiles, { attribution: box.dataset.tilesAttribution || "" }).addTo(map);
  }
  var layer = L.geoJSON(places, {
    pointToLayer: function (feature, where) {
      return L.circleMarker(where, {
        radius: 7, weight: 2, className: "case-place case-place-" + feature.properties.found_by
      });
    },
    onEachFeature: function (feature, marker) {
      var p = feature.properties;
      var how = box.dataset[p.found_by] || p.found_by;
      var label = document.createElement("span");
      label.textContent = (p.name ? p.name + " · " : "") + how + " · " + p.author + " " +
        p.posted_at.slice(0, 16);
      marker.bindTooltip(label);
    }
  }).addTo(map);
  map.fitBounds(layer.getBounds(), { maxZoom: 16, padding: [20, 20] });
})();
