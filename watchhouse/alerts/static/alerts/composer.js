// The alert composer: live counters and a preview of each channel as one types, a map on
// which to choose areas or draw polygons and a circle, and the reach of the area, asked of the
// server whenever the area or the category changes. The form works without this script:
// everything here reads and writes the form's own fields, which stay usable by keyboard.
(function () {
  "use strict";
  var form = document.getElementById("composer");
  var configNode = document.getElementById("composer-config");
  var text = window.WatchhouseText;
  if (!form || !configNode || !text) return;
  var config = JSON.parse(configNode.textContent);
  var labels = config.labels;
  var pageLanguage = document.documentElement.lang;

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (all, key) { return String(values[key]); });
  }

  function field(name) {
    return form.querySelector("[name=\"" + name + "\"]");
  }

  function value(name) {
    var input = field(name);
    return input ? text.submitted(input.value) : "";
  }

  // --- counters ----------------------------------------------------------------------------

  function counterFor(input) {
    var id = input.id + "-count";
    var node = document.getElementById(id);
    if (!node) {
      node = document.createElement("span");
      node.id = id;
      node.className = "counter";
      node.lang = pageLanguage;
      input.insertAdjacentElement("afterend", node);
      var described = input.getAttribute("aria-describedby");
      input.setAttribute("aria-describedby", described ? described + " " + id : id);
    }
    return node;
  }

  function showCount(input, used, limit, details, over) {
    var node = counterFor(input);
    var shown = format(labels.used, { used: used, limit: limit });
    if (details.length) shown += " \u00b7 " + details.join(" \u00b7 ");
    node.textContent = shown;
    node.classList.toggle("over", over);
  }

  function describe(character) {
    var code = character.codePointAt(0).toString(16).toUpperCase();
    while (code.length < 4) code = "0" + code;
    return "\u201c" + character + "\u201d U+" + code;
  }

  function countLanguage(code) {
    var sms = field(code + "_sms_text");
    if (sms) {
      var own = value(code + "_sms_text");
      var message = own || value(code + "_headline");
      var count = text.smsCount(message);
      // The forms for one and for two (see _composer_script in the console's views).
      var parts = format(labels.parts[count.segments === 1 ? 0 : 1], { n: count.segments });
      var details = [count.encoding, parts];
      var over = count.segments > 1;
      if (over) details.push(labels.tooLongSms);
      if (!own && message) details.push(labels.fromHeadline);
      showCount(sms, count.units, config.smsOnePart[count.encoding], details, over);
    }
    [["_wea_short", config.weaShort], ["_wea_long", config.weaLong]].forEach(function (pair) {
      var input = field(code + pair[0]);
      if (!input) return;
      var typed = value(code + pair[0]);
      var used = text.length(typed);
      var over = used > pair[1];
      var details = over ? [labels.tooLong] : [];
      var odd = text.weaOdd(typed);
      if (odd.length) details.push(format(labels.odd, { chars: odd.map(describe).join(", ") }));
      showCount(input, used, pair[1], details, over);
    });
  }

  // --- what each channel shows (as watchhouse/notify/outbound.py writes it) -------------------

  function show(section, name, content) {
    var node = section.querySelector("[data-show=\"" + name + "\"]");
    if (node) node.textContent = content;
  }

  function previewLanguage(code) {
    var section = document.querySelector("[data-preview=\"" + code + "\"]");
    if (!section) return;
    var headline = value(code + "_headline");
    var none = section.querySelector("[data-show=\"none\"]");
    none.textContent = labels.noHeadline;
    none.hidden = Boolean(headline);
    section.querySelector("[data-show=\"channels\"]").hidden = !headline;
    if (!headline) return;
    var category = field("category").value;
    var subject = "[" + (config.categories[code][category] || category) + "] " + headline;
    var description = value(code + "_description");
    var instruction = value(code + "_instruction");
    var email = [headline, "", description];
    if (instruction) email.push("", instruction);
    var weaLong = value(code + "_wea_long");
    show(section, "subject", subject);
    show(section, "email", email.join("\n"));
    show(section, "sms", value(code + "_sms_text") || headline);
    show(section, "push-title", subject);
    show(section, "push-body", weaLong || Array.from(description).slice(0, 300).join(""));
    show(section, "wea-short", value(code + "_wea_short"));
    show(section, "wea-long", weaLong);
  }

  function refreshTexts() {
    config.languages.forEach(function (code) {
      countLanguage(code);
      previewLanguage(code);
    });
  }

  // --- reach -------------------------------------------------------------------------------

  var reachNode = document.getElementById("reach-live");
  var latField = field("circle_lat");
  var lonField = field("circle_lon");
  var radiusField = field("circle_radius_m");
  var polygonField = field("polygon_geojson");
  var reachTimer = null;
  var reachAsked = 0;

  function hasArea() {
    return Boolean(
      form.querySelector("input[name=\"area_ids\"]:checked") ||
      radiusField.value.trim() || polygonField.value.trim()
    );
  }

  function showReach(message, failed) {
    reachNode.textContent = message;
    reachNode.classList.toggle("error", failed);
  }

  function askReach() {
    if (!hasArea()) {
      reachAsked += 1;
      showReach(labels.noArea, false);
      return;
    }
    var mine = ++reachAsked;
    fetch(form.dataset.reachUrl, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin"
    })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (answer) {
        if (mine !== reachAsked) return;
        if (answer.ok) showReach(answer.data.text, false);
        else showReach(answer.data.error || labels.reachFailed, true);
      })
      .catch(function () {
        if (mine === reachAsked) showReach(labels.reachFailed, true);
      });
  }

  function scheduleReach() {
    clearTimeout(reachTimer);
    reachTimer = setTimeout(askReach, 400);
  }

  // --- the map -----------------------------------------------------------------------------

  var svg = document.querySelector(".composer-map");
  var tools = document.querySelector(".drawing-tools");
  var map = null;
  if (svg && tools) map = drawingTool();

  function drawingTool() {
    var SVG_NS = "http://www.w3.org/2000/svg";
    // The projection of watchhouse/geo/svg.py: x = (lon - minLon) * squash * scale,
    // y = (maxLat - lat) * scale.
    var minLon = parseFloat(svg.dataset.minLon);
    var maxLat = parseFloat(svg.dataset.maxLat);
    var squash = parseFloat(svg.dataset.squash);
    var scale = parseFloat(svg.dataset.scale);
    var overlay = svg.querySelector("g.drawing");
    var hint = document.getElementById("drawing-hint");
    var finishButton = tools.querySelector("[data-drawing=finish]");
    var undoButton = tools.querySelector("[data-drawing=undo]");
    var clearButton = tools.querySelector("[data-drawing=clear]");
    var layerSelect = document.getElementById("drawing-layer");
    var polygons = [];  // finished outer rings of [lon, lat], not closed
    var current = [];  // the ring being drawn
    var mode = "areas";

    function xy(point) {
      return [(point[0] - minLon) * squash * scale, (maxLat - point[1]) * scale];
    }

    // Six decimals of a degree are about 10 cm.
    function rounded(number) {
      return Math.round(number * 1e6) / 1e6;
    }

    function clickedPoint(event) {
      var point = svg.createSVGPoint();
      point.x = event.clientX;
      point.y = event.clientY;
      var local = point.matrixTransform(svg.getScreenCTM().inverse());
      return [rounded(minLon + local.x / (squash * scale)), rounded(maxLat - local.y / scale)];
    }

    function element(name, attributes) {
      var node = document.createElementNS(SVG_NS, name);
      Object.keys(attributes).forEach(function (key) { node.setAttribute(key, attributes[key]); });
      overlay.appendChild(node);
      return node;
    }

    function points(ring) {
      return ring.map(function (p) { return xy(p).join(","); }).join(" ");
    }

    function draw() {
      while (overlay.firstChild) overlay.removeChild(overlay.firstChild);
      polygons.forEach(function (ring) {
        element("polygon", { "class": "drawn", points: points(ring) });
      });
      if (current.length) {
        element("polyline", { "class": "drawn-open", points: points(current) });
        current.forEach(function (p) {
          var at = xy(p);
          element("circle", { "class": "vertex", cx: at[0], cy: at[1], r: 5 });
        });
      }
      var lat = parseFloat(latField.value);
      var lon = parseFloat(lonField.value);
      var radius = parseFloat(radiusField.value);
      if (isFinite(lat) && isFinite(lon) && radius > 0) {
        var centre = xy([lon, lat]);
        var degreesLat = radius / 111320;
        var degreesLon = degreesLat / Math.cos(lat * Math.PI / 180);
        element("ellipse", {
          "class": "drawn", cx: centre[0], cy: centre[1],
          rx: degreesLon * squash * scale, ry: degreesLat * scale
        });
        element("circle", { "class": "vertex", cx: centre[0], cy: centre[1], r: 5 });
      }
      finishButton.disabled = current.length < 3;
      undoButton.disabled = !current.length && !polygons.length;
    }

    function writePolygons() {
      var closed = polygons.map(function (ring) { return [ring.concat([ring[0]])]; });
      if (closed.length === 1) {
        polygonField.value = JSON.stringify({ type: "Polygon", coordinates: closed[0] });
      } else if (closed.length > 1) {
        polygonField.value = JSON.stringify({ type: "MultiPolygon", coordinates: closed });
      } else {
        polygonField.value = "";
      }
      scheduleReach();
    }

    // The polygons in the field (typed, pasted, or from the server); what cannot be read is
    // left alone for the server to explain.
    function readPolygons() {
      polygons = [];
      var geojson;
      try {
        geojson = JSON.parse(polygonField.value);
      } catch (error) {
        return;
      }
      if (geojson && geojson.type === "Feature") geojson = geojson.geometry;
      if (!geojson || !Array.isArray(geojson.coordinates)) return;
      var list = [];
      if (geojson.type === "Polygon") list = [geojson.coordinates];
      if (geojson.type === "MultiPolygon") list = geojson.coordinates;
      list.forEach(function (rings) {
        if (!Array.isArray(rings) || !Array.isArray(rings[0])) return;
        var ring = rings[0]
          .filter(function (p) { return Array.isArray(p) && p.length >= 2; })
          .map(function (p) { return [Number(p[0]), Number(p[1])]; })
          .filter(function (p) { return isFinite(p[0]) && isFinite(p[1]); });
        var last = ring[ring.length - 1];
        if (ring.length > 1 && last[0] === ring[0][0] && last[1] === ring[0][1]) ring.pop();
        if (ring.length) polygons.push(ring);
      });
    }

    function markAreas() {
      svg.querySelectorAll("path[data-area-id]").forEach(function (path) {
        var box = form.querySelector(
          "input[name=\"area_ids\"][value=\"" + path.dataset.areaId + "\"]"
        );
        path.classList.toggle("chosen", Boolean(box && box.checked));
      });
    }

    function toggleArea(id) {
      var box = form.querySelector("input[name=\"area_ids\"][value=\"" + id + "\"]");
      if (!box) return;
      box.checked = !box.checked;
      var list = box.closest("details");
      if (list && box.checked) list.open = true;
      markAreas();
      scheduleReach();
    }

    function finish() {
      if (current.length < 3) return;
      polygons.push(current);
      current = [];
      writePolygons();
      draw();
    }

    function setMode(next) {
      mode = next;
      svg.classList.remove("mode-areas", "mode-polygon", "mode-circle");
      svg.classList.add("mode-" + mode);
      hint.textContent = { areas: labels.hintAreas, polygon: labels.hintPolygon,
                           circle: labels.hintCircle }[mode];
      clearButton.textContent = { areas: labels.clearAreas, polygon: labels.clearPolygons,
                                  circle: labels.clearCircle }[mode];
      finishButton.hidden = mode !== "polygon";
      undoButton.hidden = mode !== "polygon";
    }

    function setLayer(kind) {
      svg.querySelectorAll("g.layer").forEach(function (group) {
        var active = group.dataset.kind === kind;
        group.classList.toggle("active", active);
        group.classList.toggle("inactive", !active);
      });
    }

    svg.addEventListener("click", function (event) {
      if (mode === "areas") {
        var path = event.target.closest("path[data-area-id]");
        if (path) toggleArea(path.dataset.areaId);
      } else if (mode === "polygon") {
        current.push(clickedPoint(event));
        draw();
      } else {
        var centre = clickedPoint(event);
        lonField.value = centre[0];
        latField.value = centre[1];
        if (!radiusField.value.trim()) radiusField.value = config.defaultRadius;
        draw();
        scheduleReach();
      }
    });
    finishButton.addEventListener("click", finish);
    undoButton.addEventListener("click", function () {
      if (!current.length && polygons.length) {
        // Undoing past a finished polygon opens it again.
        current = polygons.pop();
        writePolygons();
      }
      current.pop();
      draw();
    });
    clearButton.addEventListener("click", function () {
      if (mode === "areas") {
        form.querySelectorAll("input[name=\"area_ids\"]").forEach(function (box) {
          box.checked = false;
        });
        markAreas();
        scheduleReach();
      } else if (mode === "polygon") {
        polygons = [];
        current = [];
        writePolygons();
      } else {
        latField.value = "";
        lonField.value = "";
        radiusField.value = "";
        scheduleReach();
      }
      draw();
    });
    if (layerSelect) {
      layerSelect.addEventListener("change", function () { setLayer(layerSelect.value); });
    }
    form.querySelectorAll("input[name=drawing_mode]").forEach(function (radio) {
      radio.addEventListener("change", function () { if (radio.checked) setMode(radio.value); });
    });
    // A polygon with corners enough is kept when the form is sent before Finish.
    form.addEventListener("submit", finish);

    readPolygons();
    var checked = form.querySelector("input[name=drawing_mode]:checked");
    setMode(checked ? checked.value : "areas");
    markAreas();
    draw();
    tools.hidden = false;
    return { draw: draw, readPolygons: readPolygons, markAreas: markAreas };
  }

  // --- wiring ------------------------------------------------------------------------------

  var TEXT_FIELD = /_(headline|description|instruction|sms_text|wea_short|wea_long)$/;
  form.addEventListener("input", function (event) {
    var name = event.target.name || "";
    if (TEXT_FIELD.test(name)) refreshTexts();
    if (name === "polygon_geojson" && map) map.readPolygons();
    if (name === "polygon_geojson" || /^circle_/.test(name)) {
      if (map) map.draw();
      scheduleReach();
    }
  });
  form.addEventListener("change", function (event) {
    var name = event.target.name || "";
    if (name === "category") {
      refreshTexts();
      scheduleReach();
    }
    if (name === "area_ids") {
      if (map) map.markAreas();
      scheduleReach();
    }
  });

  var preview = document.querySelector(".channel-preview");
  if (preview) preview.hidden = false;
  refreshTexts();
  askReach();
})();
