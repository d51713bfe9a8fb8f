// Counting alert texts in the browser exactly as the server does (watchhouse/notify/channels/
// sms.py sms_count, watchhouse/alerts/cap.py wea_problems); tests/alerts/test_textcount_js.py
// runs this file under Node and compares it with the Python on awkward texts.
// Loaded by the composer as window.WatchhouseText; under Node it is a CommonJS module.
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    root.WatchhouseText = api;
  }
})(this, function () {
  "use strict";

  // The GSM 03.38 default alphabet in code order 0x00-0x7F, without 0x1B (the escape to the
  // extension table). Written as escapes so the file means the same in any encoding.
  var GSM7_BASIC =
    "@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5" +
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e" +
    "\u00c6\u00e6\u00df\u00c9 !\"#\u00a4%&'()*+,-./0123456789:;<=>?" +
    "\u00a1ABCDEFGHIJKLMNOPQRSTUVWXYZ\u00c4\u00d6\u00d1\u00dc\u00a7\u00bf" +
    "abcdefghijklmnopqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0";
  // The extension table: each is sent as the escape septet plus its own, so counts as two.
  var GSM7_EXTENSION = "\f^{}\\[]~|\u20ac";
  // Spanish letters outside GSM-7 that WEA texts may use all the same.
  var WEA_SPANISH = "\u00e1\u00ed\u00f3\u00fa\u00c1\u00cd\u00d3\u00da";

  var basic = new Set(GSM7_BASIC);
  var extension = new Set(GSM7_EXTENSION);
  var spanish = new Set(WEA_SPANISH);

  // What Python's str.strip() (and so a Django form field) takes off both ends: JavaScript's
  // trim() differs (it keeps U+001C-U+001F and U+0085, and takes U+FEFF).
  var PY_SPACE = "[\\t\\n\\v\\f\\r\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a" +
    "\\u2028\\u2029\\u202f\\u205f\\u3000]";
  var LEADING = new RegExp("^" + PY_SPACE + "+");
  var TRAILING = new RegExp(PY_SPACE + "+$");

  function strip(text) {
    return text.replace(LEADING, "").replace(TRAILING, "");
  }

  // A field's value as the server receives and cleans it: browsers send every line break as
  // CR LF (two characters), and the form field strips the ends.
  function submitted(value) {
    return strip(value.replace(/\r\n|\r|\n/g, "\r\n"));
  }

  // Characters as Python counts them (code points): an emoji is one, not two UTF-16 units.
  function characters(text) {
    return Array.from(text);
  }

  function segments(costs, room) {
    var count = 1;
    var used = 0;
    costs.forEach(function (cost) {
      if (used + cost > room) {
        count += 1;
        used = 0;
      }
      used += cost;
    });
    return count;
  }

  // How a text travels as SMS: GSM-7 when every character is in the default alphabet or its
  // extension table (two septets each), otherwise UCS-2 (two units for a character outside
  // the Basic Multilingual Plane). 160/70 in one part, 153/67 per part once split; a split
  // never separates an escape from its character nor the halves of a surrogate pair.
  function smsCount(text) {
    var chars = characters(text);
    var gsm = chars.every(function (c) { return basic.has(c) || extension.has(c); });
    var single = gsm ? 160 : 70;
    var multi = gsm ? 153 : 67;
    var costs = chars.map(function (c) {
      if (gsm) return extension.has(c) ? 2 : 1;
      return c.codePointAt(0) > 0xffff ? 2 : 1;
    });
    var units = costs.reduce(function (a, b) { return a + b; }, 0);
    var result = {
      encoding: gsm ? "GSM-7" : "UCS-2",
      characters: chars.length,
      units: units,
      segments: units ? 1 : 0,
      perSegment: single
    };
    if (units > single) {
      result.segments = segments(costs, multi);
      result.perSegment = multi;
    }
    return result;
  }

  // The characters of a WEA text that handsets may show garbled or not at all: anything
  // outside GSM-7 and the Spanish accented vowels, once each, in code point order.
  function weaOdd(text) {
    var odd = new Set();
    characters(text).forEach(function (c) {
      if (!basic.has(c) && !extension.has(c) && !spanish.has(c)) odd.add(c);
    });
    return Array.from(odd).sort(function (a, b) { return a.codePointAt(0) - b.codePointAt(0); });
  }

  return {
    GSM7_BASIC: GSM7_BASIC,
    GSM7_EXTENSION: GSM7_EXTENSION,
    WEA_SPANISH: WEA_SPANISH,
    strip: strip,
    submitted: submitted,
    length: function (text) { return characters(text).length; },
    smsCount: smsCount,
    weaOdd: weaOdd
  };
});
