// Watchhouse's service worker: shows alert notifications and opens the alert when tapped.
self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (error) { data = { title: event.data.text() }; }
  event.waitUntil(self.registration.showNotification(data.title || "Alert", {
    body: data.body || "",
    tag: data.tag || undefined,
    renotify: true,
    data: { url: data.url || "/alerts/" }
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  event.waitUntil(self.clients.openWindow(event.notification.data.url));
});
