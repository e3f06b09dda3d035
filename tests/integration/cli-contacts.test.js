// Integration: `blindpad contacts` (libblindpad contacts.c) against a fresh
// blindpad-server, with three accounts registered by the CLI. The drive is
// read back with CryptPad's JS stack and the letters are opened with
// chainpad-crypto's Mailbox from npm, to check that requests, answers and
// contacts are stored and sealed the way CryptPad's web client
// (src/worker/components/messaging.js, mailbox-handlers.js) makes and reads
// them; a request sealed in JS the way the web client sends one is answered
// by the CLI.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const nacl = require('tweetnacl');
const { startServer, cliSandbox, Client, readDrive, registerAccounts, ROOT } = require('./lib.js');
const { Crypto } = require(path.join(ROOT, 'tests/conformance/lib/realstack.js'));
const { Rpc, pinHash } = require(path.join(ROOT, 'tests/conformance/lib/api.js'));

const A = cliSandbox('bp-contacts-a-');
const B = cliSandbox('bp-contacts-b-');
const C = cliSandbox('bp-contacts-c-');
let srv;
const who = {}; // name -> {addr, mailbox, curve}

const b64FromUrl = (s) => { s = s.replace(/-/g, '/'); return s + '='.repeat((4 - (s.length % 4)) % 4); };
const jsDrive = (cli) => readDrive(srv.url, cli.session().userHash);
async function letters(chan) {
    const c = await Client.connect(srv.url);
    try { await c.join(chan); return (await c.history(chan)).map((m) => m[4]).filter((m) => typeof m === 'string'); } finally { c.close(); }
}
// Opens every letter of cli's mailbox with chainpad-crypto (the web client's code) and cli's keys.
async function jsOpen(cli) {
    const { doc } = await jsDrive(cli);
    const enc = Crypto.Mailbox.createEncryptor({ curvePublic: doc.curvePublic, curvePrivate: doc.curvePrivate });
    return (await letters(doc.mailboxes.notifications.channel)).map((ct) => {
        const o = enc.decrypt(ct);
        return { author: o.author, ...JSON.parse(o.content) };
    });
}
async function writePrivate(chan, ct) {
    const rpc = await Rpc.open(srv);
    try { return await rpc.anon('WRITE_PRIVATE_MESSAGE', [chan, ct]); } finally { rpc.close(); }
}
async function pinned(cli) {
    const kp = nacl.sign.keyPair.fromSecretKey(new Uint8Array(Buffer.from(cli.session().edPrivate, 'base64')));
    const rpc = await Rpc.open(srv, kp);
    try { return (await rpc.ok('GET_HASH', cli.session().edPublic))[0]; } finally { rpc.close(); }
}
const list = async (cli) => {
    const r = await cli.run(['--json', 'contacts']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
};

test.before(async () => {
    srv = await startServer({ args: ['--sandbox-port', '0'] });
    await registerAccounts(srv, [[A, 'alice'], [B, 'bob'], [C, 'carol']]);
    for (const [cli, name] of [[A, 'alice'], [B, 'bob'], [C, 'carol']]) {
        const r = await cli.run(['--json', 'whoami']);
        assert.equal(r.code, 0, r.stderr);
        const addr = JSON.parse(r.stdout).address;
        const m = /\/#\/mailbox\/([0-9a-f]{32})\/([A-Za-z0-9+\-]{43})$/.exec(addr);
        who[name] = { addr, mailbox: m[1], curve: b64FromUrl(m[2]) };
    }
});
test.after(async () => {
    if (srv) await srv.stop();
    for (const c of [A, B, C]) fs.rmSync(c.tmp, { recursive: true, force: true });
});

let chat; // the chat channel A proposed to B

test('a request is recorded as pending and sealed as the web client sends one', async () => {
    let j = await list(A);
    assert.deepEqual([j.contacts, j.pending, j.requests], [[], [], []]);
    const r = await A.run(['--json', 'contacts', 'add', who.bob.addr]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { ok: true, curvePublic: who.bob.curve, mailbox: who.bob.mailbox });
    // again: refused, nothing sent twice
    const again = await A.run(['contacts', 'add', who.bob.addr]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already a contact, or a request/);

    const { doc } = await jsDrive(A);
    const p = doc.friends_pending[who.bob.curve];
    assert.equal(p.channel, who.bob.mailbox);
    assert.equal(p.curvePublic, who.bob.curve);
    assert.ok(Math.abs(p.time - Date.now()) < 60000, String(p.time));
    j = await list(A);
    assert.deepEqual(j.pending.map((x) => x.curvePublic), [who.bob.curve]);

    // B's mailbox: one FRIEND_REQUEST from A's key, the user data of Messaging.createData
    const got = await jsOpen(B);
    assert.equal(got.length, 1);
    assert.equal(got[0].type, 'FRIEND_REQUEST');
    assert.equal(got[0].author, who.alice.curve);
    const u = got[0].content.user;
    assert.equal(u.curvePublic, who.alice.curve);
    assert.equal(u.notifications, who.alice.mailbox);
    assert.equal(u.displayName, 'alice');
    assert.equal(u.edPublic, A.session().edPublic);
    assert.match(u.channel, /^[0-9a-f]{32}$/);
    chat = u.channel;
});

test('B accepts: both drives hold the other as the web client stores a friend; the chat channel is pinned', async () => {
    let j = await list(B);
    assert.equal(j.requests.length, 1);
    assert.equal(j.requests[0].curvePublic, who.alice.curve);
    assert.equal(j.requests[0].displayName, 'alice');
    const r = await B.run(['contacts', 'accept', 'alice']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /accepted/);
    j = await list(B);
    assert.deepEqual(j.requests, []); // dismissed
    assert.deepEqual(j.contacts.map((c) => [c.curvePublic, c.displayName, c.channel]), [[who.alice.curve, 'alice', chat]]);
    const db = await jsDrive(B);
    const stored = db.doc.friends[who.alice.curve];
    assert.deepEqual(stored, {
        curvePublic: who.alice.curve, notifications: who.alice.mailbox, channel: chat,
        edPublic: A.session().edPublic, displayName: 'alice', ...(stored.uid ? { uid: stored.uid } : {}),
    });
    assert.equal(db.doc.mailboxes.notifications.viewed.length, 1);
    assert.equal(await pinned(B), pinHash([db.channel, who.bob.mailbox, chat]));

    // A's mailbox: ACCEPT_FRIEND_REQUEST with B's data and the same channel
    const got = await jsOpen(A);
    assert.equal(got.length, 1);
    assert.equal(got[0].type, 'ACCEPT_FRIEND_REQUEST');
    assert.equal(got[0].author, who.bob.curve);
    assert.equal(got[0].content.user.channel, chat);
    assert.equal(got[0].content.user.notifications, who.bob.mailbox);

    // A applies the answer on its next `contacts`
    j = await list(A);
    assert.deepEqual(j.applied, { accepted: 1, declined: 0, removed: 0, crossed: 0 });
    assert.deepEqual(j.pending, []);
    assert.deepEqual(j.contacts.map((c) => [c.curvePublic, c.displayName, c.channel]), [[who.bob.curve, 'bob', chat]]);
    const da = await jsDrive(A);
    assert.deepEqual(da.doc.friends_pending, {});
    assert.equal(da.doc.friends[who.bob.curve].channel, chat);
    assert.equal(await pinned(A), pinHash([da.channel, who.alice.mailbox, chat]));
    // applied once only
    j = await list(A);
    assert.deepEqual(j.applied, { accepted: 0, declined: 0, removed: 0, crossed: 0 });
    const text = await A.run(['contacts']);
    assert.match(text.stdout, new RegExp(`${who.bob.curve.replace(/[+/]/g, '\\$&')}  bob`));
});

test('a request sealed by chainpad-crypto as the web client sends it is declined; the answer opens in JS', async () => {
    // C's keys, as the web client's worker has them
    const dc = await jsDrive(C);
    const enc = Crypto.Mailbox.createEncryptor({ curvePublic: dc.doc.curvePublic, curvePrivate: dc.doc.curvePrivate });
    const user = {
        channel: Buffer.from(nacl.randomBytes(16)).toString('hex'), displayName: 'carol (web)',
        edPublic: C.session().edPublic, curvePublic: dc.doc.curvePublic, notifications: who.carol.mailbox,
        uid: Buffer.from(nacl.randomBytes(16)).toString('hex'),
    };
    await writePrivate(who.alice.mailbox, enc.encrypt(JSON.stringify({ type: 'FRIEND_REQUEST', content: { user } }), who.alice.curve));
    // a forged one: sealed by a stranger's key but claiming to be bob: refused, never listed
    const kp = nacl.box.keyPair();
    const forger = Crypto.Mailbox.createEncryptor({ curvePublic: Buffer.from(kp.publicKey).toString('base64'), curvePrivate: Buffer.from(kp.secretKey).toString('base64') });
    await writePrivate(who.alice.mailbox, forger.encrypt(JSON.stringify({ type: 'FRIEND_REQUEST', content: { user: { ...user, curvePublic: who.bob.curve } } }), who.alice.curve));

    let j = await list(A);
    assert.deepEqual(j.requests.map((r) => [r.curvePublic, r.displayName]), [[who.carol.curve, 'carol (web)']]);
    const ambiguous = await A.run(['contacts', 'accept', 'x']);
    assert.equal(ambiguous.code, 2); // too short to be a key, not a name
    const r = await A.run(['contacts', 'decline', who.carol.curve.slice(0, 6)]);
    assert.equal(r.code, 0, r.stderr);
    j = await list(A);
    assert.deepEqual(j.requests, []);
    assert.equal(j.contacts.length, 1); // still only bob
    const got = (await jsOpen(C)).filter((l) => l.type === 'DECLINE_FRIEND_REQUEST');
    assert.equal(got.length, 1);
    assert.equal(got[0].author, who.alice.curve);
    assert.equal(got[0].content.user.curvePublic, who.alice.curve);
    assert.equal(got[0].content.user.channel, undefined); // createData(proxy, false)
});

test('a declined request leaves pending; a removal is applied on the other side', async () => {
    // C asks B, B declines: C's pending entry goes away on C's next list
    let r = await C.run(['contacts', 'add', who.bob.addr]);
    assert.equal(r.code, 0, r.stderr);
    r = await B.run(['contacts', 'decline', 'carol']);
    assert.equal(r.code, 0, r.stderr);
    let j = await list(C);
    assert.deepEqual(j.applied, { accepted: 0, declined: 1, removed: 0, crossed: 0 });
    assert.deepEqual([j.contacts, j.pending], [[], []]);

    // A removes B: A's drive forgets B at once, B when it reads the UNFRIEND letter
    r = await A.run(['contacts', 'rm', 'nobody']);
    assert.equal(r.code, 2);
    r = await A.run(['--json', 'contacts', 'rm', 'bob']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { ok: true, curvePublic: who.bob.curve, told: true });
    assert.equal((await jsDrive(A)).doc.friends[who.bob.curve], undefined);
    const got = (await jsOpen(B)).filter((l) => l.type === 'UNFRIEND');
    assert.equal(got.length, 1);
    assert.equal(got[0].content.curvePublic, who.alice.curve);
    j = await list(B);
    assert.deepEqual(j.applied, { accepted: 0, declined: 0, removed: 1, crossed: 0 });
    assert.deepEqual(j.contacts, []);
    assert.equal((await jsDrive(B)).doc.friends[who.alice.curve], undefined);
});

test('a request to someone who already asked you is accepted at once (crossed requests)', async () => {
    // C's mailbox still holds A's unread DECLINE of the earlier (JS) request: it must be
    // dropped as stale, not taken for the answer to this new request
    let r = await C.run(['contacts', 'add', who.alice.addr]);
    assert.equal(r.code, 0, r.stderr);
    r = await A.run(['contacts', 'add', who.carol.addr]);
    assert.equal(r.code, 0, r.stderr);
    // C reads A's request while its own to A is pending: accepted without asking
    let j = await list(C);
    assert.equal(j.applied.crossed, 1);
    assert.deepEqual(j.contacts.map((c) => c.curvePublic), [who.alice.curve]);
    j = await list(A);
    assert.deepEqual(j.contacts.map((c) => c.curvePublic), [who.carol.curve]);
    assert.deepEqual(j.pending, []);
    assert.deepEqual(j.requests, []);
    // each proposed a channel; after both applied the other's answer they share one
    j = await list(C);
    const ca = j.contacts[0].channel, ac = (await list(A)).contacts[0].channel;
    assert.match(ca, /^[0-9a-f]{32}$/);
    assert.equal(ca, ac);
});

test('a malformed request (no mailbox to answer to) is listed but cannot be accepted; nothing changes', async () => {
    const before = (await jsDrive(A)).doc;
    const kp = nacl.box.keyPair();
    const pub = Buffer.from(kp.publicKey).toString('base64');
    const enc = Crypto.Mailbox.createEncryptor({ curvePublic: pub, curvePrivate: Buffer.from(kp.secretKey).toString('base64') });
    const user = { channel: Buffer.from(nacl.randomBytes(16)).toString('hex'), displayName: 'no-mailbox', curvePublic: pub };
    await writePrivate(who.alice.mailbox, enc.encrypt(JSON.stringify({ type: 'FRIEND_REQUEST', content: { user } }), who.alice.curve));
    let j = await list(A);
    assert.deepEqual(j.requests.map((r) => r.curvePublic), [pub]);
    const r = await A.run(['contacts', 'accept', 'no-mailbox']);
    assert.equal(r.code, 7);
    assert.match(r.stderr, /malformed/);
    const after = (await jsDrive(A)).doc;
    assert.deepEqual(after.friends, before.friends);
    assert.deepEqual(after.friends_pending, before.friends_pending);
    j = await list(A); // still listed, still only carol as a contact
    assert.deepEqual(j.requests.map((x) => x.curvePublic), [pub]);
    assert.deepEqual(j.contacts.map((c) => c.curvePublic), [who.carol.curve]);
});

test('bad input: not an address, your own address, no session', async () => {
    let r = await A.run(['contacts', 'add', 'not-an-address']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not a contact address/);
    r = await A.run(['contacts', 'add', who.alice.addr]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /your own address/);
    r = await A.run(['contacts', 'frobnicate']);
    assert.equal(r.code, 1);
    r = await A.run(['contacts', 'add', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /usage: blindpad contacts/);
    const anon = cliSandbox('bp-contacts-anon-');
    anon.server = A.server;
    try {
        r = await anon.run(['contacts']);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /log ?in/i);
    } finally { fs.rmSync(anon.tmp, { recursive: true, force: true }); }
});
