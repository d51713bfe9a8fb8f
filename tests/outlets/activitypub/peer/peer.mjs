// An independent ActivityPub server for the interop test, built on Fedify (npm
// @fedify/fedify), on 127.0.0.1. It has one actor, "alice", and records every activity its
// inbox accepted: Fedify itself verifies each one (HTTP Signature, digest, date, the key
// fetched from the signer's actor document) before an inbox listener sees it, and answers
// 401 to anything that fails.
//
// Usage: node peer.mjs <site-host>   (prints "READY <port>" once listening)
//   POST /control/follow?handle=user@host  look the actor up by WebFinger and follow it
//   GET  /control/received                 the activities accepted so far, as JSON
//   GET  /control/rejected                 how many inbox POSTs Fedify refused
//
// The loopback site has no TLS, while WebFinger on an acct: URI is always fetched over
// https; the one shim here maps https://<site-host>/ to http:// for that host only.
import http from "node:http";
import {
  Accept, Create, Delete, Endpoints, Follow, MemoryKvStore, Person, Update,
  createFederation, generateCryptoKeyPair,
} from "@fedify/fedify";

const siteHost = process.argv[2];
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  let url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (siteHost && url.startsWith(`https://${siteHost}/`)) {
    url = "http://" + url.slice("https://".length);
    if (input instanceof Request) return realFetch(new Request(url, input), init);
    return realFetch(url, init);
  }
  return realFetch(input, init);
};

const received = [];
let rejected = 0;
const keyPairs = [await generateCryptoKeyPair("RSASSA-PKCS1-v1_5")];
const federation = createFederation({ kv: new MemoryKvStore(), allowPrivateAddress: true });

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== "alice") return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Alice Peer",
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .setKeyPairsDispatcher(async (_ctx, identifier) => (identifier === "alice" ? keyPairs : []));

async function record(ctx, activity) {
  const object = await activity.getObject();
  received.push({
    type: activity.constructor.name,
    id: activity.id?.href,
    actor: activity.actorId?.href,
    objectType: object?.constructor?.name,
    objectId: object?.id?.href ?? activity.objectId?.href,
    content: object?.content?.toString?.() ?? null,
    url: object?.url?.href ?? null,
    recipient: ctx.recipient,
  });
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Accept, record)
  .on(Create, record)
  .on(Update, record)
  .on(Delete, record)
  .onError((_ctx, error) => { console.error("inbox error", error); });

function toRequest(req, body, origin) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) value.forEach((v) => headers.append(name, v));
    else if (value != null) headers.set(name, value);
  }
  return new Request(new URL(req.url, origin), {
    method: req.method,
    headers,
    body: ["GET", "HEAD"].includes(req.method) ? undefined : body,
  });
}

const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const url = new URL(req.url, origin);
  try {
    if (url.pathname === "/control/received") {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify(received));
      return;
    }
    if (url.pathname === "/control/rejected") {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ rejected }));
      return;
    }
    if (url.pathname === "/control/follow") {
      const ctx = federation.createContext(new URL(origin), undefined);
      const target = await ctx.lookupObject(`acct:${url.searchParams.get("handle")}`);
      if (target == null || target.id == null) {
        res.writeHead(404, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ error: "not found by WebFinger" }));
        return;
      }
      const follow = new Follow({
        id: new URL(`${origin}/follows/${Date.now()}`),
        actor: ctx.getActorUri("alice"),
        object: target.id,
      });
      await ctx.sendActivity({ identifier: "alice" }, target, follow);
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({
        actor: target.id.href,
        type: target.constructor.name,
        name: target.name?.toString() ?? null,
        inbox: target.inboxId?.href ?? null,
        sharedInbox: target.endpoints?.sharedInbox?.href ?? null,
        follow: follow.id.href,
      }));
      return;
    }
    const response = await federation.fetch(toRequest(req, body, origin), { contextData: undefined });
    if (req.method === "POST" && response.status === 401) rejected += 1;
    res.writeHead(response.status, Object.fromEntries(response.headers.entries()));
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (error) {
    console.error(error);
    res.writeHead(500, { "Content-Type": "text/plain" });
    res.end(String(error));
  }
});

server.listen(0, "127.0.0.1", () => {
  console.log(`READY ${server.address().port}`);
});
