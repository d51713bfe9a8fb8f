// Counts one view of this post page: a beacon with no cookie and nothing about the reader.
(function () {
  "use strict";
  var me = document.currentScript;
  var url = me && me.getAttribute("data-seen");
  if (!url) {
    return;
  }
  if (navigator.sendBeacon) {
    navigator.sendBeacon(url);
  } else if (window.fetch) {
    fetch(url, { method: "POST", keepalive: true, credentials: "omit" });
  }
})();
