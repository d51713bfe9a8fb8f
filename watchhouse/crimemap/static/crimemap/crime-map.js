/* The public crime map: area boundaries (no tile server needed), hexagon counts when zoomed
   out, points grouped by hundred block when zoomed in, and download links for what is on
   screen. The page works without this script: the tables beside the map carry the same
   figures. Every request goes to this site; the base map only when one is configured. */
(function () {
  "use strict";

  var box = document.getElementById("crime-map");
  var form = document.getElementById("crime-filters");
  if (!box || !form || typeof L === "undefined") {
    return;
  }
  var data = box.dataset;
  var status = document.getElementById("crime-map-status");
  var pointsZoom = parseInt(data.pointsZoom, 10) || 15;
  var links = {
    csv: document.getElementById("download-csv"),
    geojson: document.getElementById("download-geojson")
  };

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function words(name) {
    return data[name] || "";
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) {
      return values[key] !== undefined ? String(values[key]) : "";
    });
  }

  /* The filters as the form holds them now (the server validates them again). */
  function filters() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (value !== "") {
        params.append(key, value);
      }
    });
    return params;
  }

  box.classList.add("crime-map-live");
  var options = document.querySelector(".crime-map-options");
  if (options) {
    options.hidden = false;
  }
  var fallback = document.getElementById("crime-map-fallback");
  if (fallback) {
    fallback.remove();
  }
  var map = L.map(box, { zoomSnap: 1, minZoom: 9, maxZoom: 18 });
  map.attributionControl.setPrefix("Leaflet");
  if (data.tiles) {
    L.tileLayer(data.tiles, { attribution: data.tilesAttribution || "", maxZoom: 19 }).addTo(map);
  } else {
    box.classList.add("no-tiles");
  }
  var bounds = (data.bounds || "").split(",").map(Number);
  if (bounds.length === 4 && bounds.every(isFinite)) {
    map.fitBounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]]);
  } else {
    map.setView([0, 0], 2);
  }

  var boundaries = L.geoJSON(null, {
    style: function () {
      return { className: "crime-boundary", weight: 1.5, fill: true, fillOpacity: 0.05 };
    },
    onEachFeature: function (feature, layer) {
      layer.bindTooltip(feature.properties.name, { sticky: true });
    }
  }).addTo(map);
  var counts = L.layerGroup().addTo(map);

  fetch(data.boundaries, { headers: { Accept: "application/geo+json" } })
    .then(function (response) {
      return response.ok ? response.json() : null;
    })
    .then(function (document) {
      if (document) {
        boundaries.addData(document);
        box.dataset.boundariesDrawn = String(document.features.length);
      }
    });

  function bboxParam() {
    var b = map.getBounds();
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
      .map(function (n) {
        return n.toFixed(5);
      })
      .join(",");
  }

  function updateDownloads() {
    var params = filters();
    params.set("bbox", bboxParam());
    ["csv", "geojson"].forEach(function (format) {
      if (links[format]) {
        params.set("format", format);
        links[format].href = data.points + "?" + params.toString();
      }
    });
  }

  /* Fill shade for a count relative to the largest one on screen (five steps). */
  function shade(count, most) {
    var step = most > 0 ? Math.min(4, Math.floor((count / most) * 5)) : 0;
    return "crime-shade-" + step;
  }

  function drawHexagons(document) {
    var features = document.features || [];
    var most = features.reduce(function (m, f) {
      return Math.max(m, f.properties.count);
    }, 0);
    var total = 0;
    L.geoJSON(document, {
      style: function (feature) {
        return {
          className: "crime-hex " + shade(feature.properties.count, most),
          weight: 1,
          fillOpacity: 0.7
        };
      },
      onEachFeature: function (feature, layer) {
        total += feature.properties.count;
        layer.bindTooltip(fill(words("hexLabel"), { count: feature.properties.count }));
      }
    }).addTo(counts);
    box.dataset.layer = "hexbins";
    box.dataset.features = String(features.length);
    say(fill(words("hexStatus"), { count: total, cells: features.length }));
  }

  /* Points are already public (hundred-block) points; those that would overlap on screen
     are drawn as one circle sized and labelled by how many it holds. */
  function drawPoints(document) {
    var features = document.features || [];
    var groups = {};
    features.forEach(function (feature) {
      var xy = feature.geometry.coordinates;
      var at = map.latLngToLayerPoint([xy[1], xy[0]]);
      var key = Math.round(at.x / 24) + ":" + Math.round(at.y / 24);
      var group = groups[key] || (groups[key] = { lat: 0, lon: 0, n: 0, places: {} });
      group.lat += xy[1];
      group.lon += xy[0];
      group.n += 1;
      var place = feature.properties.block || "";
      group.places[place] = (group.places[place] || 0) + 1;
    });
    var keys = Object.keys(groups);
    keys.forEach(function (key) {
      var group = groups[key];
      var names = Object.keys(group.places).filter(Boolean).slice(0, 3).join("; ");
      L.circleMarker([group.lat / group.n, group.lon / group.n], {
        className: "crime-point",
        radius: Math.min(22, 5 + 3 * Math.sqrt(group.n)),
        weight: 1,
        fillOpacity: 0.8
      })
        .bindTooltip(fill(words("pointLabel"), { count: group.n, places: names }))
        .addTo(counts);
    });
    box.dataset.layer = "points";
    box.dataset.features = String(features.length);
    var template = document.truncated ? words("pointsTruncated") : words("pointsStatus");
    say(fill(template, { count: features.length, groups: keys.length }));
  }

  /* H3 resolution of the hexagons at a zoom level: about a dozen pixels or more across. */
  function resolution(zoom) {
    if (zoom <= 11) {
      return 7;
    }
    return zoom <= 13 ? 8 : 9;
  }

  var pending = null;
  function refresh() {
    updateDownloads();
    if (pending) {
      pending.abort();
    }
    pending = new AbortController();
    var params = filters();
    params.set("bbox", bboxParam());
    var zoom = map.getZoom();
    var points = zoom >= pointsZoom;
    var url;
    if (points) {
      params.set("format", "geojson");
      url = data.points;
    } else {
      params.set("resolution", String(resolution(zoom)));
      url = data.hexbins;
    }
    box.setAttribute("aria-busy", "true");
    fetch(url + "?" + params.toString(), { signal: pending.signal })
      .then(function (response) {
        if (!response.ok) {
          return response.json().then(function (body) {
            throw new Error(body.detail || response.statusText);
          });
        }
        return response.json();
      })
      .then(function (document) {
        counts.clearLayers();
        (points ? drawPoints : drawHexagons)(document);
        box.removeAttribute("aria-busy");
      })
      .catch(function (error) {
        if (error.name !== "AbortError") {
          box.removeAttribute("aria-busy");
          say(fill(words("failed"), { reason: error.message }));
        }
      });
  }

  /* Hot and cold spots (Gi*), drawn over the counts when the visitor asks for them. */
  var spots = L.layerGroup().addTo(map);
  var spotsBox = document.getElementById("show-hotspots");
  var spotsStatus = document.getElementById("hotspots-status");
  function refreshSpots() {
    spots.clearLayers();
    if (!spotsBox || !spotsBox.checked) {
      if (spotsStatus) {
        spotsStatus.textContent = "";
      }
      return;
    }
    fetch(data.hotspots + "?" + filters().toString())
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (result) {
        if (!result) {
          return;
        }
        var hot = 0;
        var cold = 0;
        var shown = (result.features.features || []).filter(function (feature) {
          return feature.properties.confidence > 0;
        });
        L.geoJSON({ type: "FeatureCollection", features: shown }, {
          style: function (feature) {
            var kind = feature.properties["class"].split("-")[0];
            return { className: "crime-spot crime-" + feature.properties["class"] + " crime-" + kind, weight: 2, fillOpacity: 0.15 };
          },
          onEachFeature: function (feature, layer) {
            var kind = feature.properties["class"].split("-")[0];
            if (kind === "hot") {
              hot += 1;
            } else {
              cold += 1;
            }
            layer.bindTooltip(fill(words(kind === "hot" ? "hotLabel" : "coldLabel"), {
              confidence: feature.properties.confidence,
              count: feature.properties.count
            }));
          }
        }).addTo(spots);
        box.dataset.hotspots = String(hot);
        if (spotsStatus) {
          spotsStatus.textContent = fill(words("spotsStatus"), { hot: hot, cold: cold });
        }
      });
  }

  map.on("moveend", refresh);
  form.addEventListener("change", function () {
    refresh();
    refreshSpots();
  });
  if (spotsBox) {
    spotsBox.addEventListener("change", refreshSpots);
  }
  refresh();
  refreshSpots();
})();
