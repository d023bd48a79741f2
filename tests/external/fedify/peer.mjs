// A remote ActivityPub server built with Fedify (an implementation no one here wrote), on
// loopback, playing the Fediverse against a running `feedsmith serve`:
//
//   node peer.mjs SITE_URL POSTS_DIR SITE_NAME TAG CATEGORY
//
// 1. looks the site, a tag and a category up by WebFinger (`acct:NAME@HOST`), and their actor
//    documents with Fedify's own lookup;
// 2. follows the three actors (Fedify signs each Follow with its key; feedsmith verifies it)
//    and waits for a signed `Accept` of each, which Fedify's inbox verifies before its listener
//    sees it (an unverified activity never reaches a listener);
// 3. writes a new post into POSTS_DIR (in the tag and the category) and waits for the site's
//    `Create{Article}` and the tag's and category's `Announce`; edits it and waits for
//    `Update`; removes it and waits for `Delete{Tombstone}`;
// 4. unfollows the three (`Undo{Follow}`), waits until the site says it has no followers,
//    writes another post, and checks that nothing more arrives.
//
// Prints one line per step and exits 0 when every step held, 1 otherwise. Every wait is
// bounded. Only loopback addresses are used.

import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import {
  createFederation,
  generateCryptoKeyPair,
  MemoryKvStore,
} from "@fedify/fedify";
import {
  Accept,
  Announce,
  Create,
  Delete,
  Endpoints,
  Follow,
  Person,
  Undo,
  Update,
} from "@fedify/fedify/vocab";

const [siteUrl, postsDir, siteName, tagSlug, categorySlug] = process.argv.slice(2);
if (!categorySlug) {
  console.error("usage: node peer.mjs SITE_URL POSTS_DIR SITE_NAME TAG CATEGORY");
  process.exit(2);
}
const site = new URL(siteUrl);
const WAIT_MS = 30_000;
const QUIET_MS = 3_000;

function fail(why) {
  console.error(`FAIL: ${why}`);
  process.exit(1);
}
function step(what) {
  console.log(`ok: ${what}`);
}

// Everything the inbox listeners got, after Fedify verified it.
const received = [];
let wake = () => {};
function got(kind, activity) {
  received.push({ kind, id: activity.id?.href, actor: activity.actorId?.href, activity });
  wake();
}

async function waitFor(what, check) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const found = await check();
    if (found) return found;
    if (Date.now() > deadline) {
      const seen = received.map((r) => `${r.kind} ${r.id} from ${r.actor}`).join("\n  ");
      fail(`timed out waiting for ${what}; received:\n  ${seen}`);
    }
    await new Promise((resolve) => {
      wake = resolve;
      setTimeout(resolve, 100);
    });
  }
}

const keyPair = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");
const federation = createFederation({
  kv: new MemoryKvStore(),
  // Loopback only: the site runs on 127.0.0.1.
  allowPrivateAddress: true,
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== "peer") return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Fedify peer",
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .setKeyPairsDispatcher(async (_ctx, identifier) =>
    identifier === "peer" ? [keyPair] : [],
  );

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Accept, async (_ctx, a) => got("Accept", a))
  .on(Create, async (_ctx, a) => got("Create", a))
  .on(Announce, async (_ctx, a) => got("Announce", a))
  .on(Update, async (_ctx, a) => got("Update", a))
  .on(Delete, async (_ctx, a) => got("Delete", a))
  .onError(async (_ctx, e) => console.error(`inbox error: ${e}`));

// Fedify answers Web `Request`s; Node's server hands it each one.
const server = http.createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url, `http://${req.headers.host}`);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (Array.isArray(v)) v.forEach((x) => headers.append(k, x));
      else if (v !== undefined) headers.set(k, v);
    }
    const request = new Request(url, {
      method: req.method,
      headers,
      body: ["GET", "HEAD"].includes(req.method) ? undefined : body,
    });
    const response = await federation.fetch(request, { contextData: undefined });
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  } catch (e) {
    console.error(`peer server error: ${e}`);
    res.writeHead(500);
    res.end();
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
const ctx = federation.createContext(new URL(origin), undefined);
step(`Fedify peer at ${origin}/users/peer`);

// WebFinger. Fedify's own acct: lookup asks over https (as RFC 7033 says); the site here is
// plain http on loopback, so the WebFinger GET is made here and Fedify looks the actor up.
async function webfinger(name) {
  const host = site.port ? `${site.hostname}:${site.port}` : site.hostname;
  const resource = `acct:${name}@${host}`;
  const url = new URL("/.well-known/webfinger", site);
  url.searchParams.set("resource", resource);
  const r = await fetch(url, { headers: { Accept: "application/jrd+json" } });
  if (r.status !== 200) fail(`WebFinger ${resource}: ${r.status}`);
  const jrd = await r.json();
  if (jrd.subject !== resource) fail(`WebFinger ${resource}: subject ${jrd.subject}`);
  const self = (jrd.links ?? []).find(
    (l) => l.rel === "self" && l.type === "application/activity+json",
  );
  if (!self) fail(`WebFinger ${resource}: no self link`);
  const actor = await ctx.lookupObject(self.href);
  if (!actor || !actor.inboxId || !actor.id) fail(`${self.href}: not an actor to Fedify`);
  const key = await actor.getPublicKey();
  if (!key?.publicKey) fail(`${self.href}: no public key`);
  step(`${resource} -> ${actor.id.href} (${actor.constructor.name})`);
  return actor;
}

const siteActor = await webfinger(siteName);
const tagActor = await webfinger(tagSlug);
const categoryActor = await webfinger(categorySlug);
const actors = [siteActor, tagActor, categoryActor];

// Follow the three; each Follow is signed by Fedify (and verified by feedsmith's inbox).
const follows = new Map();
for (const [i, actor] of actors.entries()) {
  const follow = new Follow({
    id: new URL(`${origin}/follows/${i}`),
    actor: ctx.getActorUri("peer"),
    object: actor.id,
  });
  follows.set(actor.id.href, follow);
  await ctx.sendActivity({ identifier: "peer" }, actor, follow);
}
for (const actor of actors) {
  await waitFor(`the Accept of ${actor.id.href}`, () =>
    received.find((r) => r.kind === "Accept" && r.actor === actor.id.href),
  );
}
for (const actor of actors) {
  const accept = received.find((r) => r.kind === "Accept" && r.actor === actor.id.href);
  // Its object's id only: Fedify does not trust an object embedded from another origin (the
  // Follow is ours), and would fetch it from here.
  if (accept.activity.objectId?.href !== follows.get(actor.id.href).id.href) {
    fail(`the Accept from ${actor.id.href} is not of our Follow`);
  }
}
step("three signed Accepts, verified by Fedify, each of our Follow");

async function followers(actor) {
  const r = await fetch(new URL(`${actor.id.href}/followers`), {
    headers: { Accept: "application/activity+json" },
  });
  return (await r.json()).totalItems;
}
for (const actor of actors) {
  if ((await followers(actor)) !== 1) fail(`${actor.id.href} does not count its follower`);
}
step("each actor's followers collection counts one");

// A new post, an edit, a removal: files under posts/.
const file = path.join(postsDir, "2026-01-02-fediverse-hello.md");
const post = (body) =>
  `---\ntitle: Hello, Fediverse\ndate: 2026-01-02 10:00:00 +0000\n` +
  `categories: ${categorySlug}\ntags: [${tagSlug}]\n---\n${body}\n`;
fs.writeFileSync(file, post("First words from the peer test."));
const create = await waitFor("the Create of the new post", () =>
  received.find((r) => r.kind === "Create" && r.actor === siteActor.id.href),
);
const article = await create.activity.getObject();
if (article?.constructor.name !== "Article") fail(`Create of a ${article?.constructor.name}`);
if (!article.content?.toString().includes("First words")) fail("Create: no content");
const articleUrl = article.id.href;
step(`Create{Article} ${articleUrl} from the site`);
for (const actor of [tagActor, categoryActor]) {
  const a = await waitFor(`the Announce by ${actor.id.href}`, () =>
    received.find((r) => r.kind === "Announce" && r.actor === actor.id.href),
  );
  if (a.activity.objectId?.href !== articleUrl) fail(`Announce of ${a.activity.objectId}`);
}
step("Announce of it from the tag and the category");

fs.writeFileSync(file, post("Edited words from the peer test."));
const update = await waitFor("the Update of the edited post", () =>
  received.find((r) => r.kind === "Update"),
);
const edited = await update.activity.getObject();
if (!edited.content?.toString().includes("Edited words")) fail("Update: old content");
const updates = received.filter((r) => r.kind === "Update").length;
step(`Update{Article} with the new content (${updates} delivery: one shared inbox)`);

fs.rmSync(file);
const del = await waitFor("the Delete of the removed post", () =>
  received.find((r) => r.kind === "Delete"),
);
if (del.activity.objectId?.href !== articleUrl) fail(`Delete of ${del.activity.objectId}`);
step("Delete{Tombstone} of it");

// Unfollow all three; then nothing more may come.
for (const actor of actors) {
  const follow = follows.get(actor.id.href);
  await ctx.sendActivity(
    { identifier: "peer" },
    actor,
    new Undo({
      id: new URL(`${follow.id.href}/undo`),
      actor: ctx.getActorUri("peer"),
      object: follow,
    }),
  );
}
for (const actor of actors) {
  await waitFor(`${actor.id.href} to lose its follower`, async () =>
    (await followers(actor)) === 0,
  );
}
step("Undo{Follow} of the three: no followers left");
const before = received.length;
fs.writeFileSync(
  path.join(postsDir, "2026-01-03-after-unfollow.md"),
  post("Nobody should receive this.").replace("Hello, Fediverse", "After the unfollow"),
);
// The post is published (its page is there) before the quiet period is counted.
await waitFor("the second post to be published", async () => {
  const r = await fetch(new URL("/rss.xml", site));
  return (await r.text()).includes("After the unfollow");
});
await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
if (received.length !== before) {
  fail(`received after unfollowing: ${received.slice(before).map((r) => r.kind)}`);
}
step(`nothing received in ${QUIET_MS} ms after a new post`);

console.log("PASS");
server.close();
process.exit(0);
