// Integration: `blindpad mail send|read` and the contact address of
// `blindpad whoami` (libblindpad mailbox.c) against a fresh blindpad-server,
// with three accounts registered by the CLI. Interop both ways with
// chainpad-crypto's Mailbox code from npm: a letter the CLI sealed opens in
// JS (Crypto.Mailbox.createEncryptor(...).decrypt), and one JS sealed and
// wrote with WRITE_PRIVATE_MESSAGE (as mailbox.js's sendTo does) is read by
// `blindpad mail read`. The drive is read back with CryptPad's JS stack to
// check that the mailbox is stored where the web client looks for it.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const nacl = require('tweetnacl');
const { startServer, cliSandbox, Client, readDrive, registerAccounts, ROOT } = require('./lib.js');
const { Crypto } = require(path.join(ROOT, 'tests/conformance/lib/realstack.js'));
const { Rpc, pinHash } = require(path.join(ROOT, 'tests/conformance/lib/api.js'));

const A = cliSandbox('bp-mail-a-');
const B = cliSandbox('bp-mail-b-');
const C = cliSandbox('bp-mail-c-');
let srv;

const jsDrive = (cli) => readDrive(srv.url, cli.session().userHash);
async function rawHistory(chan) {
    const c = await Client.connect(srv.url);
    try { await c.join(chan); return (await c.history(chan)).map((m) => ({ ct: m[4], time: m[5] })).filter((m) => typeof m.ct === 'string'); } finally { c.close(); }
}
async function writePrivate(chan, ct) {
    const rpc = await Rpc.open(srv);
    try { return await rpc.anon('WRITE_PRIVATE_MESSAGE', [chan, ct]); } finally { rpc.close(); }
}
const readJson = async (cli, args = []) => {
    const r = await cli.run(['--json', 'mail', 'read', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return { ...JSON.parse(r.stdout), stderr: r.stderr };
};
const b64FromUrl = (s) => { s = s.replace(/-/g, '/'); return s + '='.repeat((4 - (s.length % 4)) % 4); };

test.before(async () => {
    srv = await startServer({ args: ['--sandbox-port', '0'] });
    await registerAccounts(srv, [[A, 'alice'], [B, 'bob'], [C, 'carol']]);
});
test.after(async () => {
    if (srv) await srv.stop();
    for (const c of [A, B, C]) fs.rmSync(c.tmp, { recursive: true, force: true });
});

let addrB, chanB, curveB, curveA, addrA;

test('whoami prints a contact address; the mailbox is stored and pinned as the web client does', async () => {
    const r = await B.run(['--json', 'whoami']);
    assert.equal(r.code, 0, r.stderr);
    addrB = JSON.parse(r.stdout).address;
    const m = /^http:\/\/127\.0\.0\.1:\d+\/#\/mailbox\/([0-9a-f]{32})\/([A-Za-z0-9+\-]{43})$/.exec(addrB);
    assert.ok(m, addrB);
    chanB = m[1];
    curveB = b64FromUrl(m[2]);
    // stable: a second whoami gives the same address
    const again = await B.run(['whoami']);
    assert.match(again.stdout, new RegExp(`address: +${addrB.replace(/[+/.]/g, '\\$&')}`));

    const { doc, channel } = await jsDrive(B);
    assert.deepEqual(doc.mailboxes.notifications, { channel: chanB, lastKnownHash: '', viewed: [] });
    assert.equal(doc.curvePublic, curveB);
    // owned by the account: the --delete test's TRIM_HISTORY (owners only) proves it
    // pinned: the pin list is the drive + the mailbox
    const kp = nacl.sign.keyPair.fromSecretKey(new Uint8Array(Buffer.from(B.session().edPrivate, 'base64')));
    const rpc = await Rpc.open(srv, kp);
    try {
        const [hash] = await rpc.ok('GET_HASH', B.session().edPublic);
        assert.equal(hash, pinHash([channel, chanB]));
    } finally { rpc.close(); }

    const ra = await A.run(['--json', 'whoami']);
    addrA = JSON.parse(ra.stdout).address;
    curveA = b64FromUrl(addrA.split('/').pop());
});

test('A sends to B; B reads it, authenticated; C cannot read it', async () => {
    let r = await A.run(['mail', 'send', addrB, 'hello bob, ünïcødé ✓']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sent/);
    // stdin, one trailing newline dropped
    const p = spawn(A.bin, ['--server', A.server, '--json', 'mail', 'send', addrB, '-'],
        { env: { PATH: process.env.PATH, HOME: A.tmp, XDG_CONFIG_HOME: A.cfg }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.stdin.end('line one\nline two\n');
    const code = await new Promise((res) => p.on('close', res));
    assert.equal(code, 0, err);
    const sent = JSON.parse(out);
    assert.equal(sent.ok, true);
    assert.equal(sent.channel, chanB);

    const j = await readJson(B);
    assert.equal(j.mailbox, chanB);
    assert.equal(j.messages.length, 2);
    const [m1, m2] = j.messages;
    assert.equal(m1.status, 'ok');
    assert.equal(m1.text, 'hello bob, ünïcødé ✓');
    assert.equal(m1.type, 'BLINDPAD_MESSAGE');
    assert.equal(m1.author, curveA);
    assert.equal(m1.displayName, 'alice');
    assert.equal(m1.content.user.curvePublic, curveA);
    assert.match(m1.content.user.notifications, /^[0-9a-f]{32}$/); // where to answer
    assert.ok(m1.time > 0);
    assert.equal(m2.text, 'line one\nline two');
    assert.equal(m2.hash, sent.hash);
    // human output
    r = await B.run(['mail', 'read']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /from alice <.+>\n {4}hello bob/);

    // C: its own mailbox is empty, and B's letters do not open with C's key
    const jc = await readJson(C);
    assert.equal(jc.messages.length, 0);
    const dc = await jsDrive(C);
    const raw = await rawHistory(chanB); // anyone may fetch the ciphertexts...
    assert.equal(raw.length, 2);
    const encC = Crypto.Mailbox.createEncryptor({ curvePublic: dc.doc.curvePublic, curvePrivate: dc.doc.curvePrivate });
    for (const m of raw) assert.throws(() => { const x = encC.decrypt(m.ct); if (!x) throw new Error('no'); }); // ...but not read them

    // JS interop: what the CLI sealed opens with chainpad-crypto's Mailbox (B's keys)
    const db = await jsDrive(B);
    const encB = Crypto.Mailbox.createEncryptor({ curvePublic: db.doc.curvePublic, curvePrivate: db.doc.curvePrivate });
    const opened = encB.decrypt(raw[0].ct);
    assert.equal(opened.author, curveA);
    const obj = JSON.parse(opened.content);
    assert.equal(obj.type, 'BLINDPAD_MESSAGE');
    assert.equal(obj.content.text, 'hello bob, ünïcødé ✓');
    assert.equal(obj.content.user.displayName, 'alice');
});

test('a letter sealed by chainpad-crypto is read; tampered and forged ones are refused', async () => {
    const before = (await readJson(B)).messages.length;
    // as mailbox.js's sendToAnon: a random curve key pair, a SHARE_PAD-like CryptPad notice
    const kp = nacl.box.keyPair();
    const js = Crypto.Mailbox.createEncryptor({
        curvePublic: Buffer.from(kp.publicKey).toString('base64'),
        curvePrivate: Buffer.from(kp.secretKey).toString('base64'),
    });
    const jsPub = Buffer.from(kp.publicKey).toString('base64');
    const text = JSON.stringify({ type: 'BLINDPAD_MESSAGE', content: { text: 'from JS', user: { displayName: 'js', curvePublic: jsPub } } });
    let reply = await writePrivate(chanB, js.encrypt(text, curveB));
    assert.notEqual(reply[1], 'ERROR', JSON.stringify(reply));
    const notice = JSON.stringify({ type: 'SHARE_PAD', content: { href: '/code/#/2/code/edit/x/', title: 'T', user: { curvePublic: jsPub } } });
    await writePrivate(chanB, js.encrypt(notice, curveB));

    // tampered: one character of the sealed box changed
    const good = js.encrypt(JSON.stringify({ type: 'BLINDPAD_MESSAGE', content: { text: 'tampered' } }), curveB);
    const i = 120;
    const bad = good.slice(0, i) + (good[i] === 'A' ? 'B' : 'A') + good.slice(i + 1);
    await writePrivate(chanB, bad);
    // forged: sealed by a random key, claiming to be alice
    await writePrivate(chanB, js.encrypt(JSON.stringify({ type: 'BLINDPAD_MESSAGE', content: { text: 'I am alice', user: { displayName: 'alice', curvePublic: curveA } } }), curveB));

    const j = await readJson(B);
    const fresh = j.messages.slice(before);
    assert.equal(fresh.length, 4);
    assert.equal(fresh[0].status, 'ok');
    assert.equal(fresh[0].text, 'from JS');
    assert.equal(fresh[0].author, jsPub);
    assert.equal(fresh[1].status, 'ok');
    assert.equal(fresh[1].type, 'SHARE_PAD');
    assert.equal(fresh[1].content.title, 'T');
    assert.equal(fresh[2].status, 'tampered');
    assert.equal(fresh[2].text, undefined);
    assert.equal(fresh[3].status, 'forged-sender');
    assert.equal(fresh[3].author, jsPub); // who really sealed it
    assert.match(j.stderr, /2 messages refused/);
    const r = await B.run(['mail', 'read']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /REFUSED: does not open with your key/);
    assert.match(r.stdout, /REFUSED: claims another sender/);
});

test('--delete dismisses (drive lastKnownHash, as the web client) and removes from the server', async () => {
    const j = await readJson(B, ['--delete']);
    const n = j.messages.length;
    assert.ok(n >= 6);
    assert.equal(j.deleted, n);
    assert.equal(j.removedFromServer, true);
    const newest = j.messages[n - 1].hash;
    assert.equal((await readJson(B)).messages.length, 0);
    const r = await B.run(['mail', 'read']);
    assert.match(r.stdout, /no new messages/);
    const { doc } = await jsDrive(B);
    assert.equal(doc.mailboxes.notifications.lastKnownHash, newest);
    assert.deepEqual(doc.mailboxes.notifications.viewed, []);
    // on the server only the newest stays (the web client resumes from it)
    const raw = await rawHistory(chanB);
    assert.equal(raw.length, 1);
    assert.equal(raw[0].ct.slice(0, 64), newest);
    const all = await readJson(B, ['--all']);
    assert.equal(all.messages.length, 1);
    assert.equal(all.messages[0].dismissed, true);

    // a new message after that is new again
    const s = await A.run(['mail', 'send', addrB, 'after delete']);
    assert.equal(s.code, 0, s.stderr);
    const after = await readJson(B);
    assert.deepEqual(after.messages.map((m) => m.text), ['after delete']);
});

test('bad input: addresses, no session, text not given on a pipe', async () => {
    let r = await A.run(['mail', 'send', 'http://127.0.0.1:1/#/mailbox/zz/AAAA', 'x']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not a contact address/);
    r = await A.run(['mail', 'send']);
    assert.equal(r.code, 1);
    r = await A.run(['mail', 'frobnicate']);
    assert.equal(r.code, 1);
    // CryptPad's user data as JSON works as an address
    const { doc } = await jsDrive(B);
    r = await A.run(['mail', 'send', JSON.stringify({ notifications: doc.mailboxes.notifications.channel, curvePublic: doc.curvePublic }), 'via JSON']);
    assert.equal(r.code, 0, r.stderr);
    // a server that is not there
    const gone = addrB.replace(/127\.0\.0\.1:\d+/, '127.0.0.1:1');
    r = await A.run(['mail', 'send', gone, 'x']);
    assert.equal(r.code, 4, r.stderr);
    // not logged in
    const D = cliSandbox('bp-mail-d-');
    D.server = A.server;
    try {
        r = await D.run(['mail', 'read']);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /not logged in/);
    } finally { fs.rmSync(D.tmp, { recursive: true, force: true }); }
});

test('a letter cannot send escape sequences to the reader\'s terminal; --json keeps it exact', async () => {
    const evil = 'look \x1b[2J\x1b]0;pwned\x07 here \u009b31m red\x7f end';
    const s = await A.run(['mail', 'send', addrB, evil]);
    assert.equal(s.code, 0, s.stderr);
    const r = await B.run(['mail', 'read', '--all']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /look \?\[2J\?\]0;pwned\? here \?31m red\? end/);
    assert.doesNotMatch(r.stdout, /[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f]/);
    const j = await readJson(B, ['--all']);
    assert.ok(j.messages.some((m) => m.text === evil), 'the JSON output has the letter as sent');
});
