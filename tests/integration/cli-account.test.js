// Integration: `blindpad register` / `blindpad login` (libblindpad account.c)
// against a fresh blindpad-server: register then login, wrong password (exit
// 3), the same name and password twice, the session file (0600, the account's
// keys), the login block on disk is byte for byte what GET /block serves, and
// a JS check of interoperability: CryptPad's login derivation (scrypt with
// N=256, r=1024, p=1, 192 bytes, then allocateBytes; computed here with
// node's own scrypt and tweetnacl: scrypt-async is not installed, and for
// ASCII credentials its string encoding is plain UTF-8) opens the block the C
// client wrote, and CryptPad's JS stack (chainpad-netflux + chainpad-crypto)
// opens the drive it names and finds the account keys there, owned by
// edPublic.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const nacl = require('tweetnacl');
const { startServer, cliSandbox, ROOT } = require('./lib.js');
const { Crypto, openPad } = require(path.join(ROOT, 'tests/conformance/lib/realstack.js'));

const cli = cliSandbox('bp-cli-account-');
const { tmp, sessionFile, run, session } = cli;

// CryptPad's derivation (common-login.js allocateBytes) of the block keys.
function blockKeys(username, password) {
    const bytes = crypto.scryptSync(Buffer.from(password, 'utf8'), Buffer.from(username.toLowerCase(), 'utf8'), 192,
        { N: 256, r: 1024, p: 1, maxmem: 256 * 1024 * 1024 });
    const sign = nacl.sign.keyPair.fromSeed(new Uint8Array(bytes.subarray(98, 130)));
    const id = Buffer.from(sign.publicKey).toString('base64').replace(/\//g, '-');
    return { sign, key: new Uint8Array(bytes.subarray(130, 162)), path: `/block/${id.slice(0, 2)}/${id}`, id };
}

let srv, server;
test.before(async () => {
    srv = await startServer({ args: ['--sandbox-port', '0'] });
    server = cli.server = `http://127.0.0.1:${srv.port}`;
});
test.after(async () => {
    if (srv) await srv.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
});

test('register, then login with the same credentials; whoami shows the account', async () => {
    const r = await run(['register', 'Alice'], { password: 'correct horse' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^registered Alice on http:\/\/127\.0\.0\.1:\d+\nedPublic: [A-Za-z0-9+/]{43}=\n$/);
    const s1 = session();
    assert.equal(s1.kind, 'account');
    assert.equal(s1.username, 'Alice');
    assert.match(s1.userHash, /^\/2\/drive\/edit\/[A-Za-z0-9+-]{24}\/$/);
    assert.equal(fs.statSync(sessionFile).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.dirname(sessionFile)).mode & 0o777, 0o700);
    // the edPrivate in the session is the key pair of edPublic
    const sk = Buffer.from(s1.edPrivate, 'base64');
    assert.equal(Buffer.from(nacl.sign.keyPair.fromSecretKey(new Uint8Array(sk)).publicKey).toString('base64'), s1.edPublic);

    fs.rmSync(sessionFile);
    const l = await run(['--json', 'login', 'alice'], { password: 'correct horse' }); // user names are case-insensitive
    assert.equal(l.code, 0, l.stderr);
    const out = JSON.parse(l.stdout);
    assert.equal(out.ok, true);
    assert.equal(out.edPublic, s1.edPublic);
    assert.equal(out.username, 'Alice', 'login_name comes from the drive');
    assert.equal(out.legacy, false);
    const s2 = session();
    assert.equal(s2.userHash, s1.userHash);
    assert.equal(s2.edPrivate, s1.edPrivate);
    assert.equal(fs.statSync(sessionFile).mode & 0o777, 0o600);

    const w = await run(['whoami']);
    assert.equal(w.code, 0, w.stderr);
    assert.match(w.stdout, /^account identity on /);
    assert.ok(w.stdout.includes(s1.edPublic));
});

test('wrong password or unknown user: exit 3, "wrong password or user name"', async () => {
    for (const [user, pw] of [['alice', 'correct horsf'], ['nobody', 'correct horse']]) {
        const r = await run(['login', user], { password: pw });
        assert.equal(r.code, 3, r.stderr);
        assert.match(r.stderr, /^blindpad: wrong password or user name\n$/);
    }
    const j = await run(['--json', 'login', 'alice'], { password: 'nope nope' });
    assert.equal(j.code, 3);
    assert.deepEqual(JSON.parse(j.stdout), { ok: false, exit: 3, error: 'wrong password or user name' });
});

test('registering the same name and password twice is refused; short passwords too', async () => {
    const r = await run(['register', 'alice'], { password: 'correct horse' });
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /an account with that user name and password already exists/);
    const s = await run(['register', 'bob'], { password: 'short' });
    assert.equal(s.code, 1, s.stderr);
    assert.match(s.stderr, /at least 8 characters/);
    const u = await run(['register'], { password: 'long enough' });
    assert.equal(u.code, 1);
    const f = await fetch(server + blockKeys('bob', 'short').path);
    assert.equal(f.status, 404, 'nothing written for a refused registration');
});

test('the block on disk is exactly what GET /block serves, and CryptPad\'s derivation opens it', async () => {
    const r = await run(['register', 'carol'], { password: 'p4ssw0rd-carol' });
    assert.equal(r.code, 0, r.stderr);
    const s = session();
    const k = blockKeys('carol', 'p4ssw0rd-carol');
    const res = await fetch(server + k.path);
    assert.equal(res.status, 200);
    const served = Buffer.from(await res.arrayBuffer());
    const onDisk = [path.join(srv.dataDir, 'block', k.id.slice(0, 2), k.id),
        path.join(srv.dataDir, 'data', 'block', k.id.slice(0, 2), k.id)].find((p) => fs.existsSync(p));
    assert.ok(onDisk, 'block file not found under ' + srv.dataDir);
    assert.deepEqual(fs.readFileSync(onDisk), served);

    // block = 0x00 || nonce || secretbox(JSON {User_hash, edPublic})
    assert.equal(served[0], 0);
    const plain = nacl.secretbox.open(new Uint8Array(served.subarray(25)), new Uint8Array(served.subarray(1, 25)), k.key);
    assert.ok(plain, 'the block does not open with the JS-derived key');
    const text = Buffer.from(plain).toString('utf8');
    assert.equal(text, JSON.stringify({ User_hash: s.userHash, edPublic: s.edPublic }));

    // the drive, opened by CryptPad's JS stack from the block's User_hash
    const keys = Crypto.createEditCryptor2(s.userHash.split('/')[4]);
    keys.channel = Buffer.from(keys.chanId.replace(/-/g, '/'), 'base64').toString('hex');
    const pad = await openPad(srv.url || `ws://127.0.0.1:${srv.port}/cryptpad_websocket`, keys);
    try {
        const doc = JSON.parse(pad.authDoc());
        assert.equal(doc.edPublic, s.edPublic);
        assert.equal(doc.edPrivate, s.edPrivate);
        assert.equal(doc.curvePublic, s.curvePublic);
        assert.equal(Buffer.from(nacl.box.keyPair.fromSecretKey(new Uint8Array(Buffer.from(doc.curvePrivate, 'base64'))).publicKey).toString('base64'), doc.curvePublic);
        assert.equal(doc.login_name, 'carol');
        assert.equal(doc['cryptpad.username'], 'carol');
        assert.equal(doc.version, 11);
        assert.deepEqual(pad.metadata.owners, [s.edPublic]);
    } finally {
        pad.stop();
    }
});

// http-command.js's two stages, signed with the block key (as CryptPad does).
async function serverCommand(keypair, data) {
    const b64 = (u) => Buffer.from(u).toString('base64');
    const obj = { ...data, publicKey: b64(keypair.publicKey), nonce: b64(nacl.randomBytes(24)) };
    const post = (body) => fetch(server + '/api/auth/', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const r1 = await post(JSON.stringify(obj));
    assert.equal(r1.status, 200);
    const { txid, date } = await r1.json();
    const sig = nacl.sign.detached(Buffer.from(JSON.stringify({ ...obj, txid, date })), keypair.secretKey);
    const r2 = await post(JSON.stringify({ sig: b64(sig), txid }));
    assert.equal(r2.status, 200, await r2.text());
}

test('a removed block: login says why (exit 2), registering those credentials again is refused', async () => {
    const r = await run(['register', 'dave'], { password: 'dave-password' });
    assert.equal(r.code, 0, r.stderr);
    const k = blockKeys('dave', 'dave-password');
    await serverCommand(k.sign, { command: 'REMOVE_BLOCK', reason: 'PASSWORD_CHANGE' });
    const l = await run(['login', 'dave'], { password: 'dave-password' });
    assert.equal(l.code, 2, l.stderr);
    assert.match(l.stderr, /this password was changed: log in with the new password/);
    const again = await run(['register', 'dave'], { password: 'dave-password' });
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stderr, /was deleted \(PASSWORD_CHANGE\)/);

    const e = await run(['register', 'erin'], { password: 'erin-password' });
    assert.equal(e.code, 0, e.stderr);
    await serverCommand(blockKeys('erin', 'erin-password').sign, { command: 'REMOVE_BLOCK', reason: 'ARCHIVE_OWNED' });
    const le = await run(['login', 'erin'], { password: 'erin-password' });
    assert.equal(le.code, 2, le.stderr);
    assert.match(le.stderr, /this account was deleted \(ARCHIVE_OWNED\)/);
});

// A drive written by CryptPad's JS stack (chainpad-netflux, json.sortify), as the
// web client's registration leaves it. The web client writes drives with
// chainpad-listmap, whose ChainPad starts with initialState "{}" and whose first
// message is that initial-state patch ([0,0,"{}"] from the root, CHAINPAD.md §5.1);
// the document follows as a patch from "{}". A listmap reader (JS or C) starts
// with that message as its head, so a drive whose first patch inserts the whole
// document from the root is a fork of equal depth that loses the hash tie-break
// against it (for about 3 drives in 10): the reader sees "{}". Writing "{}" first
// with plain chainpad-netflux produces that very initial-state message.
async function jsDrive(keys, doc, owners) {
    const Sortify = require('json.sortify');
    const pad = await openPad(srv.url || `ws://127.0.0.1:${srv.port}/cryptpad_websocket`, keys, owners ? { owners } : {});
    try {
        const end = Date.now() + 15000;
        for (const want of ['{}', Sortify(doc)]) {
            pad.realtime.contentUpdate(want);
            // settled alone can hold before the patch is even sent (ChainPad syncs on a timer):
            // wait until the server has accepted exactly this document.
            while (!(pad.settled() && pad.realtime.getAuthDoc() === want)) {
                if (Date.now() > end) throw new Error('JS drive did not settle');
                await new Promise((res) => setTimeout(res, 50));
            }
        }
    } finally {
        pad.stop();
    }
}
const accountDoc = (name, ed, curve) => ({
    edPublic: Buffer.from(ed.publicKey).toString('base64'), edPrivate: Buffer.from(ed.secretKey).toString('base64'),
    curvePublic: Buffer.from(curve.publicKey).toString('base64'), curvePrivate: Buffer.from(curve.secretKey).toString('base64'),
    login_name: name, 'cryptpad.username': name, version: 11,
});

test('an account registered the way the web client does (JS) logs in from the CLI', async () => {
    const ed = nacl.sign.keyPair(), curve = nacl.box.keyPair();
    const doc = accountDoc('frank', ed, curve);
    const keys = Crypto.createEditCryptor2();
    keys.channel = Buffer.from(keys.chanId.replace(/-/g, '/'), 'base64').toString('hex');
    await jsDrive(keys, doc, [doc.edPublic]);
    const k = blockKeys('Frank', 'frank-password');
    const nonce = nacl.randomBytes(24);
    const content = JSON.stringify({ User_hash: `/2/drive/edit/${keys.editKeyStr}/`, edPublic: doc.edPublic });
    const block = Buffer.concat([Buffer.from([0]), Buffer.from(nonce), Buffer.from(nacl.secretbox(Buffer.from(content), nonce, k.key))]);
    const b64 = (u) => Buffer.from(u).toString('base64');
    await serverCommand(k.sign, { command: 'WRITE_BLOCK', content: {
        publicKey: b64(k.sign.publicKey), signature: b64(nacl.sign.detached(nacl.hash(block), k.sign.secretKey)),
        ciphertext: b64(block), hasPassword: true } });

    const l = await run(['--json', 'login', 'FRANK'], { password: 'frank-password' });
    assert.equal(l.code, 0, l.stderr);
    assert.equal(JSON.parse(l.stdout).edPublic, doc.edPublic);
    const s = session();
    assert.equal(s.userHash, `/2/drive/edit/${keys.editKeyStr}/`);
    assert.equal(s.edPrivate, doc.edPrivate);
    assert.equal(s.curvePublic, doc.curvePublic);
    const bad = await run(['login', 'frank'], { password: 'frank-passwore' });
    assert.equal(bad.code, 3);
});

test('a legacy account (drive at the scrypt-derived v1 hash, no block) logs in', async () => {
    const bytes = crypto.scryptSync(Buffer.from('old-password'), Buffer.from('gina'), 192,
        { N: 256, r: 1024, p: 1, maxmem: 256 * 1024 * 1024 });
    const keys = Crypto.createEditCryptor(null, new Uint8Array(bytes.subarray(0, 18)));
    keys.channel = bytes.subarray(18, 34).toString('hex');
    const ed = nacl.sign.keyPair.fromSeed(new Uint8Array(bytes.subarray(66, 98)));
    const curve = nacl.box.keyPair.fromSecretKey(new Uint8Array(bytes.subarray(34, 66)));
    const doc = accountDoc('gina', ed, curve);
    await jsDrive(keys, doc);
    const l = await run(['--json', 'login', 'gina'], { password: 'old-password' });
    assert.equal(l.code, 0, l.stderr);
    const out = JSON.parse(l.stdout);
    assert.equal(out.legacy, true);
    assert.equal(out.edPublic, doc.edPublic);
    const urlb64 = (b) => b.toString('base64').replace(/\//g, '-').replace(/=+$/, '');
    assert.equal(session().userHash, `/1/edit/${urlb64(bytes.subarray(18, 34))}/${keys.editKeyStr.replace(/\//g, '-')}/`);
    // and its credentials cannot be registered again
    const r = await run(['register', 'gina'], { password: 'old-password' });
    assert.equal(r.code, 5, r.stderr);
});
