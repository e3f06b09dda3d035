// Integration: login blocks and the signed HTTP commands (/api/auth), driven
// the way CryptPad's client does it (src/common/outer/http-command.js and
// login-block.js): registration, password change, removal, two-factor login
// (TOTP computed here with node's HMAC-SHA1), restricted registration with
// proofs and invitations, and bad input that must get a JSON error, never a
// crash. The SERVER-API §8 checklist items themselves live in
// tests/conformance; these go further.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const nacl = require('tweetnacl');
const { startServer } = require('./lib.js');

const b64 = (u8) => Buffer.from(u8).toString('base64');
const urlSafe = (s) => s.replace(/\//g, '-');

function request(port, method, urlPath, body, headers = {}) {
    return new Promise((resolve, reject) => {
        const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
        const req = http.request({ host: '127.0.0.1', port, method, path: urlPath,
            headers: { ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}), ...headers } },
        (res) => {
            const chunks = [];
            res.on('data', (d) => chunks.push(d));
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        });
        req.on('error', reject);
        if (data) req.write(data);
        req.end();
    });
}
const json = (r) => JSON.parse(r.body.toString());

// A block keypair whose base64 has a '/' (so the URL-safe form matters).
function blockKeys() {
    for (;;) {
        const kp = nacl.sign.keyPair();
        if (b64(kp.publicKey).includes('/')) return { sign: kp, symmetric: nacl.randomBytes(32) };
    }
}
const blockPath = (keys) => { const k = urlSafe(b64(keys.sign.publicKey)); return `/block/${k.slice(0, 2)}/${k}`; };

// Block.serialize: 0x00 || nonce || secretbox(JSON), signed over its SHA-512.
function serialize(content, keys) {
    const nonce = nacl.randomBytes(24);
    const ct = new Uint8Array([0, ...nonce, ...nacl.secretbox(Buffer.from(JSON.stringify(content)), nonce, keys.symmetric)]);
    return { publicKey: b64(keys.sign.publicKey), signature: b64(nacl.sign.detached(nacl.hash(ct), keys.sign.secretKey)),
        ciphertext: b64(ct), bytes: ct };
}
const proveAncestor = (old) => JSON.stringify([old.sign.publicKey, nacl.sign.detached(old.sign.publicKey, old.sign.secretKey)].map(b64));

// http-command.js, step by step; returns both responses.
async function serverCommand(port, keypair, myData, opts = {}) {
    const obj = JSON.parse(JSON.stringify(myData));
    obj.publicKey = b64(keypair.publicKey);
    obj.nonce = b64(nacl.randomBytes(24));
    const r1 = await request(port, 'POST', '/api/auth/', JSON.stringify(obj));
    if (r1.status !== 200) return { stage: 1, status: r1.status, body: json(r1) };
    const { txid, date } = json(r1);
    const copy = JSON.parse(JSON.stringify(obj));
    copy.txid = txid;
    copy.date = date;
    const sig = nacl.sign.detached(Buffer.from(JSON.stringify(copy)), (opts.signer || keypair).secretKey);
    const answer = JSON.stringify({ sig: b64(sig), txid });
    const r2 = await request(port, 'POST', '/api/auth/', answer);
    const text = r2.body.toString();
    return { stage: 2, status: r2.status, body: text ? JSON.parse(text) : undefined, answer, txid };
}

async function writeBlock(port, keys, content, extra = {}) {
    const block = serialize(content, keys);
    const { bytes, ...wire } = block;
    const r = await serverCommand(port, keys.sign, { command: extra.command || 'WRITE_BLOCK',
        content: { ...wire, hasPassword: true, ...(extra.content || {}) }, session: extra.session });
    return { ...r, bytes };
}

// RFC 6238 with SHA-1, 30 s, 6 digits, from a base32 secret.
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32(buf) {
    let bits = 0, acc = 0, out = '';
    for (const b of buf) { acc = (acc << 8) | b; bits += 8; while (bits >= 5) { bits -= 5; out += B32[(acc >> bits) & 31]; } }
    if (bits) out += B32[(acc << (5 - bits)) & 31];
    return out;
}
function totp(secretBytes, t = Date.now()) {
    const counter = Buffer.alloc(8);
    counter.writeBigUInt64BE(BigInt(Math.floor(t / 1000 / 30)));
    const mac = crypto.createHmac('sha1', secretBytes).update(counter).digest();
    const off = mac[19] & 15;
    const v = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
    return String(v % 1e6).padStart(6, '0');
}

test('TOTP helper matches RFC 6238 (sanity of the test itself)', () => {
    // RFC 6238 Appendix B, SHA-1, last 6 of the 8 digits.
    const key = Buffer.from('12345678901234567890');
    assert.equal(totp(key, 59000), '287082');
    assert.equal(totp(key, 1111111109000), '081804');
    assert.equal(base32(key), 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
});

test('register, log in, change the password, delete the account', async () => {
    const srv = await startServer();
    try {
        const port = srv.port;
        const k1 = blockKeys();
        // Registration: the block is unknown, then written, then served byte for byte.
        let r = await request(port, 'GET', blockPath(k1));
        assert.equal(r.status, 404);
        assert.deepEqual(json(r), { code: 404 });
        const content = { User_hash: '/drive/#/2/drive/edit/' + 'x'.repeat(24), edPublic: b64(nacl.randomBytes(32)) };
        const w = await writeBlock(port, k1, content);
        assert.equal(w.status, 200);
        assert.equal(w.body, undefined);
        r = await request(port, 'GET', blockPath(k1));
        assert.equal(r.status, 200);
        assert.equal(r.headers['content-type'], 'application/octet-stream');
        assert.ok(r.headers.etag);
        assert.ok(r.headers['last-modified']);
        assert.deepEqual(new Uint8Array(r.body), w.bytes);
        // The client can decrypt what it gets back.
        const plain = nacl.secretbox.open(r.body.subarray(25), r.body.subarray(1, 25), k1.symmetric);
        assert.deepEqual(JSON.parse(Buffer.from(plain).toString()), content);
        // HEAD gives the size without the body.
        r = await request(port, 'HEAD', blockPath(k1));
        assert.equal(r.status, 200);
        assert.equal(Number(r.headers['content-length']), w.bytes.length);
        assert.equal(r.body.length, 0);

        // Password change: new block with a proof for the old key, then the
        // old block is removed with PASSWORD_CHANGE.
        const k2 = blockKeys();
        const w2 = await writeBlock(port, k2, { ...content, v: 2 }, { content: { registrationProof: proveAncestor(k1),
            userData: [undefined, content.edPublic] } });
        assert.equal(w2.status, 200, JSON.stringify(w2.body));
        const rm = await serverCommand(port, k1.sign, { command: 'REMOVE_BLOCK', edPublic: content.edPublic, reason: 'PASSWORD_CHANGE' });
        assert.equal(rm.status, 200);
        r = await request(port, 'GET', blockPath(k1));
        assert.equal(r.status, 404);
        assert.deepEqual(json(r), { reason: 'PASSWORD_CHANGE', code: 404 });
        r = await request(port, 'GET', blockPath(k2));
        assert.equal(r.status, 200);
        assert.deepEqual(new Uint8Array(r.body), w2.bytes);
        // The old block sits in the archive, its placeholder next to the live path.
        const s1 = urlSafe(b64(k1.sign.publicKey));
        assert.ok(fs.existsSync(path.join(srv.dataDir, 'data/archive/block', s1.slice(0, 2), s1)));
        assert.equal(fs.readFileSync(path.join(srv.dataDir, 'block', s1.slice(0, 2), s1 + '.placeholder'), 'utf8'), 'PASSWORD_CHANGE');
        // Removing it again: ENOENT, without a path (Q13).
        const again = await serverCommand(port, k1.sign, { command: 'REMOVE_BLOCK', reason: 'PASSWORD_CHANGE' });
        assert.equal(again.status, 500);
        assert.deepEqual(again.body, { error: 'Execution error', errorCode: 'ENOENT' });

        // Overwriting a block in place also archives the old one (PASSWORD_CHANGE).
        const w3 = await writeBlock(port, k2, { ...content, v: 3 });
        assert.equal(w3.status, 200);
        r = await request(port, 'GET', blockPath(k2));
        assert.deepEqual(new Uint8Array(r.body), w3.bytes);
        const s2 = urlSafe(b64(k2.sign.publicKey));
        assert.deepEqual(new Uint8Array(fs.readFileSync(path.join(srv.dataDir, 'data/archive/block', s2.slice(0, 2), s2))), w2.bytes);

        // Account deletion with a non-ASCII reason (the signature covers the raw UTF-8).
        const del = await serverCommand(port, k2.sign, { command: 'REMOVE_BLOCK', reason: 'ARCHIVE_OWNED 🙂 été "q"' });
        assert.equal(del.status, 200);
        r = await request(port, 'GET', blockPath(k2));
        assert.deepEqual(json(r), { reason: 'ARCHIVE_OWNED 🙂 été "q"', code: 404 });
    } finally {
        await srv.stop();
    }
});

test('a bad block signature, a stolen challenge and a replayed answer change nothing', async () => {
    const srv = await startServer();
    try {
        const port = srv.port;
        const k = blockKeys();
        const w = await writeBlock(port, k, { a: 1 });
        assert.equal(w.status, 200);
        // A block signed over other bytes: E_COULD_NOT_VERIFY, the old block stays.
        const good = serialize({ a: 2 }, k);
        const other = serialize({ a: 3 }, k);
        const bad = await serverCommand(port, k.sign, { command: 'WRITE_BLOCK',
            content: { publicKey: good.publicKey, signature: other.signature, ciphertext: good.ciphertext } });
        assert.equal(bad.status, 500);
        assert.deepEqual(bad.body, { error: 'Execution error', errorCode: 'E_COULD_NOT_VERIFY' });
        let r = await request(port, 'GET', blockPath(k));
        assert.deepEqual(new Uint8Array(r.body), w.bytes);
        // Someone else's key answering the challenge for k's block.
        const thief = nacl.sign.keyPair();
        const stolen = await serverCommand(port, k.sign, { command: 'WRITE_BLOCK',
            content: { publicKey: good.publicKey, signature: good.signature, ciphertext: good.ciphertext } }, { signer: thief });
        assert.deepEqual(stolen.body, { error: 'Failed signature validation' });
        r = await request(port, 'GET', blockPath(k));
        assert.deepEqual(new Uint8Array(r.body), w.bytes);
        // A valid answer replayed: the challenge is gone after its first use.
        const rm = await serverCommand(port, k.sign, { command: 'REMOVE_BLOCK', reason: 'X' });
        assert.equal(rm.status, 200);
        const w2 = await writeBlock(port, k, { a: 4 });
        assert.equal(w2.status, 200);
        const replay = await request(port, 'POST', '/api/auth', rm.answer);
        assert.equal(replay.status, 500);
        assert.deepEqual(json(replay), { error: 'Unexpected response' });
        r = await request(port, 'GET', blockPath(k));
        assert.equal(r.status, 200);
        assert.deepEqual(new Uint8Array(r.body), w2.bytes);
        // No challenge file is left behind by completed exchanges.
        const dir = path.join(srv.dataDir, 'data/challenges');
        const left = fs.existsSync(dir) ? fs.readdirSync(dir).flatMap((d) => fs.readdirSync(path.join(dir, d))) : [];
        assert.deepEqual(left, []);
    } finally {
        await srv.stop();
    }
});

test('restricted registration: proofs and invitations', async () => {
    const srv = await startServer({ args: ['--restrict-registration', '1'] });
    try {
        const port = srv.port;
        const k = blockKeys();
        const w = await writeBlock(port, k, { a: 1 });
        assert.deepEqual(w.body, { error: 'Execution error', errorCode: 'E_RESTRICTED' });
        assert.equal((await request(port, 'GET', blockPath(k))).status, 404);
        // An existing account (placed on disk, as if from before the restriction).
        const old = blockKeys();
        const os = urlSafe(b64(old.sign.publicKey));
        fs.mkdirSync(path.join(srv.dataDir, 'block', os.slice(0, 2)), { recursive: true });
        fs.writeFileSync(path.join(srv.dataDir, 'block', os.slice(0, 2), os), serialize({ old: 1 }, old).bytes);
        // A proof by another key, and a proof for a block that does not exist: refused.
        const forged = JSON.stringify([b64(old.sign.publicKey), b64(nacl.sign.detached(old.sign.publicKey, k.sign.secretKey))]);
        let r = await writeBlock(port, k, { a: 1 }, { content: { registrationProof: forged } });
        assert.equal(r.body.errorCode, 'E_RESTRICTED');
        r = await writeBlock(port, k, { a: 1 }, { content: { registrationProof: proveAncestor(blockKeys()) } });
        assert.equal(r.body.errorCode, 'E_RESTRICTED');
        r = await writeBlock(port, k, { a: 1 }, { content: { registrationProof: 'not json' } });
        assert.equal(r.body.errorCode, 'E_RESTRICTED');
        // A valid proof: accepted.
        r = await writeBlock(port, k, { a: 1 }, { content: { registrationProof: proveAncestor(old) } });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal((await request(port, 'GET', blockPath(k))).status, 200);

        // Invitation: valid once; the invited user becomes a known user.
        const token = 'q1w2e3r4t5y6u7i8o9';
        const invPath = path.join(srv.dataDir, 'data/invitations', token.slice(0, 2), token);
        fs.mkdirSync(path.dirname(invPath), { recursive: true });
        fs.writeFileSync(invPath, JSON.stringify({ alias: 'carol', email: 'c@example.org', createdBy: 'ADMINKEY', time: 1 }));
        const invited = blockKeys();
        const edPublic = b64(nacl.sign.keyPair().publicKey);
        r = await writeBlock(port, invited, { b: 1 }, { content: { inviteToken: token, userData: ['carol', edPublic] } });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.ok(!fs.existsSync(invPath));
        const user = JSON.parse(fs.readFileSync(path.join(srv.dataDir, 'data/users', urlSafe(edPublic).slice(0, 2), urlSafe(edPublic)), 'utf8'));
        assert.equal(user.block, b64(invited.sign.publicKey));
        assert.equal(user.alias, 'carol');
        assert.equal(user.type, 'invite:' + token);
        const second = blockKeys();
        r = await writeBlock(port, second, { b: 2 }, { content: { inviteToken: token, userData: ['eve', b64(nacl.randomBytes(32))] } });
        assert.equal(r.body.errorCode, 'E_RESTRICTED');
        // An invite token shaped like a path is just not an invitation.
        r = await writeBlock(port, second, { b: 2 }, { content: { inviteToken: '../../block' } });
        assert.equal(r.body.errorCode, 'E_RESTRICTED');

        // The invited user changes the password: the known user follows the block;
        // deleting the account later removes the record.
        const next = blockKeys();
        r = await writeBlock(port, next, { b: 3 }, { content: { registrationProof: proveAncestor(invited), userData: [undefined, edPublic] } });
        assert.equal(r.status, 200);
        const userFile = path.join(srv.dataDir, 'data/users', urlSafe(edPublic).slice(0, 2), urlSafe(edPublic));
        assert.equal(JSON.parse(fs.readFileSync(userFile, 'utf8')).block, b64(next.sign.publicKey));
        // Someone else's block cannot remove that record.
        r = await serverCommand(port, k.sign, { command: 'REMOVE_BLOCK', edPublic, reason: 'ARCHIVE_OWNED' });
        assert.equal(r.status, 200);
        assert.ok(fs.existsSync(userFile));
        r = await serverCommand(port, next.sign, { command: 'REMOVE_BLOCK', edPublic, reason: 'ARCHIVE_OWNED' });
        assert.equal(r.status, 200);
        assert.ok(!fs.existsSync(userFile));
    } finally {
        await srv.stop();
    }
});

test('two-factor login: setup, gate, validate, password change, revoke', async () => {
    const srv = await startServer();
    try {
        const port = srv.port;
        const k = blockKeys();
        const w = await writeBlock(port, k, { a: 1 });
        assert.equal(w.status, 200);
        const secret = crypto.randomBytes(20);
        const b32 = base32(secret);
        // Wrong code, malformed secret, over-long contact: refused at stage 1.
        let r = await serverCommand(port, k.sign, { command: 'TOTP_SETUP', secret: b32, code: String((Number(totp(secret)) + 333333) % 1e6).padStart(6, '0') });
        assert.deepEqual(r.body, { error: 'INVALID_OTP' });
        r = await serverCommand(port, k.sign, { command: 'TOTP_SETUP', secret: b32.slice(0, 26), code: totp(secret) });
        assert.deepEqual(r.body, { error: 'INVALID_SECRET' });
        r = await serverCommand(port, k.sign, { command: 'TOTP_SETUP', secret: b32, code: totp(secret), contact: 'x'.repeat(255) });
        assert.deepEqual(r.body, { error: 'INVALID_CONTACT' });
        // No block yet for another key: NO_BLOCK at completion.
        const nobody = blockKeys();
        r = await serverCommand(port, nobody.sign, { command: 'TOTP_SETUP', secret: b32, code: totp(secret) });
        assert.deepEqual(r.body, { error: 'Execution error', errorCode: 'NO_BLOCK' });

        const recovery = b64(nacl.randomBytes(24));
        r = await serverCommand(port, k.sign, { command: 'TOTP_SETUP', secret: b32, code: totp(secret), contact: 'secret:' + recovery });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        const bearer = r.body.bearer;
        assert.match(bearer, /^[A-Za-z0-9+=-]{32}$/);

        // The gate: 401 without a bearer, 200 with it.
        r = await request(port, 'GET', blockPath(k));
        assert.equal(r.status, 401);
        assert.deepEqual(json(r), { sso: false, method: 'TOTP', code: 401 });
        r = await request(port, 'GET', blockPath(k), undefined, { Authorization: 'Bearer ' + bearer });
        assert.equal(r.status, 200);
        assert.deepEqual(new Uint8Array(r.body), w.bytes);
        // Bad bearers of every shape: 401, never 500.
        for (const bad of ['Bearer ../../../../../../../../../etc/passwd', 'Bearer ' + '../'.repeat(11) + 'xx',
            'Bearer ' + 'A'.repeat(32), 'Bearer ' + 'A'.repeat(5000), 'Bearer ' + bearer + 'x', 'Bearer', 'Basic abc',
            'Bearer ' + bearer.slice(0, 31) + '/', 'Bearer %2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e']) {
            r = await request(port, 'GET', blockPath(k), undefined, { Authorization: bad });
            assert.equal(r.status, 401, bad);
            assert.deepEqual(json(r), { sso: false, method: 'TOTP', code: 401 });
        }
        // Plain commands are refused on a protected block.
        for (const command of ['MFA_CHECK', 'REMOVE_BLOCK']) {
            r = await serverCommand(port, k.sign, { command });
            assert.deepEqual(r.body, { error: 'NOT_ALLOWED' });
        }
        r = await writeBlock(port, k, { a: 2 });
        assert.deepEqual(r.body, { error: 'NOT_ALLOWED' });
        // TOTP_MFA_CHECK and TOTP_VALIDATE (a new device).
        r = await serverCommand(port, k.sign, { command: 'TOTP_MFA_CHECK', auth: totp(secret) });
        assert.equal(r.status, 200);
        assert.equal(r.body, undefined);
        r = await serverCommand(port, k.sign, { command: 'TOTP_VALIDATE', code: totp(secret) });
        assert.equal(r.status, 200);
        const bearer2 = r.body.bearer;
        assert.notEqual(bearer2, bearer);
        r = await request(port, 'GET', blockPath(k), undefined, { Authorization: 'Bearer ' + bearer2 });
        assert.equal(r.status, 200);
        // A session file whose time is up: refused and deleted.
        const ks = urlSafe(b64(k.sign.publicKey));
        const sessFile = path.join(srv.dataDir, 'data/sessions', ks.slice(0, 2), ks, bearer2);
        fs.writeFileSync(sessFile, JSON.stringify({ mfa: { type: 'otp', exp: Date.now() - 1000 } }));
        r = await request(port, 'GET', blockPath(k), undefined, { Authorization: 'Bearer ' + bearer2 });
        assert.equal(r.status, 401);
        assert.ok(!fs.existsSync(sessFile));

        // Password change of a two-factor account: TOTP_WRITE_BLOCK with the
        // old block's code, then TOTP_REMOVE_BLOCK of the old block.
        const k2 = blockKeys();
        r = await writeBlock(port, k2, { a: 3 }, { command: 'TOTP_WRITE_BLOCK', content: { registrationProof: proveAncestor(k), auth: '000000' === totp(secret) ? '111111' : '000000' } });
        assert.deepEqual(r.body, { error: 'INVALID_OTP' });
        r = await writeBlock(port, k2, { a: 3 }, { command: 'TOTP_WRITE_BLOCK', content: { auth: totp(secret) } });
        assert.deepEqual(r.body, { error: 'MISSING_ANCESTOR' });
        const w2 = await writeBlock(port, k2, { a: 3 }, { command: 'TOTP_WRITE_BLOCK', content: { registrationProof: proveAncestor(k), auth: totp(secret) } });
        assert.equal(w2.status, 200, JSON.stringify(w2.body));
        const bearer3 = w2.body.bearer;
        r = await request(port, 'GET', blockPath(k2));
        assert.equal(r.status, 401); // the MFA settings were copied
        r = await request(port, 'GET', blockPath(k2), undefined, { Authorization: 'Bearer ' + bearer3 });
        assert.equal(r.status, 200);
        assert.deepEqual(new Uint8Array(r.body), w2.bytes);
        r = await serverCommand(port, k.sign, { command: 'TOTP_REMOVE_BLOCK', auth: totp(secret), reason: 'PASSWORD_CHANGE' });
        assert.equal(r.status, 200);
        assert.deepEqual(r.body, { success: true });
        r = await request(port, 'GET', blockPath(k), undefined, { Authorization: 'Bearer ' + bearer });
        assert.equal(r.status, 404);
        assert.deepEqual(json(r), { reason: 'PASSWORD_CHANGE', code: 404 });
        assert.ok(!fs.existsSync(path.join(srv.dataDir, 'data/mfa', ks.slice(0, 2), ks + '.json')));

        // Revoke on the new block: a wrong recovery key, then the right one.
        r = await serverCommand(port, k2.sign, { command: 'TOTP_REVOKE', recoveryKey: b64(nacl.randomBytes(24)) });
        assert.deepEqual(r.body, { error: 'E_WRONG_RECOVERY_KEY' });
        r = await serverCommand(port, k2.sign, { command: 'TOTP_REVOKE', recoveryKey: recovery });
        assert.equal(r.status, 200);
        assert.deepEqual(r.body, { success: true });
        r = await request(port, 'GET', blockPath(k2));
        assert.equal(r.status, 200);
        r = await request(port, 'GET', blockPath(k2), undefined, { Authorization: 'Bearer ' + bearer3 });
        assert.equal(r.status, 200); // no gate any more; the header is ignored
        r = await serverCommand(port, k2.sign, { command: 'TOTP_VALIDATE', code: totp(secret) });
        assert.deepEqual(r.body, { error: 'NO_MFA_CONFIGURED' });
        // Set up again and revoke with a code this time.
        r = await serverCommand(port, k2.sign, { command: 'TOTP_SETUP', secret: b32, code: totp(secret) });
        assert.equal(r.status, 200);
        r = await serverCommand(port, k2.sign, { command: 'TOTP_REVOKE', code: totp(secret) });
        assert.deepEqual(r.body, { success: true });
    } finally {
        await srv.stop();
    }
});

test('upload cookie through /api/auth', async () => {
    const srv = await startServer();
    try {
        const kp = nacl.sign.keyPair();
        const r = await serverCommand(srv.port, kp, { command: 'UPLOAD_COOKIE', id: 'ignored' });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.match(r.body.cookie, /^[0-9a-f]{32}$/);
    } finally {
        await srv.stop();
    }
});

test('garbage, huge and malformed requests get JSON errors; the server lives on', async () => {
    const srv = await startServer();
    try {
        const port = srv.port;
        const post = (body) => request(port, 'POST', '/api/auth', body);
        const cases = [
            ['not json at all', 500, 'invalid request'],
            ['', 500, 'invalid request'],
            ['null', 500, 'invalid request'],
            ['"a string"', 500, 'invalid request'],
            ['[1,2,3]', 500, 'invalid request'],
            ['{}', 500, 'invalid request'],
            ['{"txid":0,"command":0}', 500, 'invalid request'],
            ['{"command":{"x":1}}', 500, 'invalid command'],
            ['{"command":"MFA_CHECK","publicKey":["x"]}', 500, 'Invalid key'],
            ['{"command":"MFA_CHECK","publicKey":"' + 'é'.repeat(22) + '"}', 500, 'Invalid key'],
            ['{"txid":1}', 500, 'Invalid txid'],
            ['{"txid":"' + 'a'.repeat(32) + '","sig":null}', 500, 'Missing signature'],
            ['{"txid":"' + 'a'.repeat(32) + '","sig":"' + '!'.repeat(88) + '"}', 500, 'Unexpected response'],
            ['{"txid":"' + 'a'.repeat(32) + '","sig":"x","nonce":"n"}', 500, 'extraneous parameters'],
            ['['.repeat(40000) + ']'.repeat(40000), 500, 'invalid request'],
            [Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), 500, 'invalid request'],
            ['{"command":"WRITE_BLOCK","publicKey":"' + 'A'.repeat(43) + '=","content":{"publicKey":null}}', 500, 'INVALID_KEY'],
        ];
        for (const [body, status, error] of cases) {
            const r = await post(body);
            assert.equal(r.status, status, String(body).slice(0, 60));
            assert.match(r.headers['content-type'], /^application\/json/);
            assert.equal(json(r).error, error, String(body).slice(0, 60));
        }
        // Over the /api/auth limit (100 kB) but under the HTTP limit: 413 with JSON.
        const big = JSON.stringify({ command: 'MFA_CHECK', publicKey: 'x', pad: 'p'.repeat(150 * 1024) });
        let r = await post(big);
        assert.equal(r.status, 413);
        assert.ok(json(r).error);
        // Over the HTTP body limit: refused by the HTTP layer.
        r = await post('x'.repeat(2 * 1024 * 1024)).catch((e) => ({ status: 413, error: e }));
        assert.equal(r.status, 413);
        // /block URLs of odd shapes.
        for (const [p, status] of [['/block/AA/short', 404], ['/block/', 404], ['/block/AA/' + 'A'.repeat(43) + '.', 404],
            ['/block/AA/' + '%2F'.repeat(14) + 'AA', 404]]) {
            r = await request(port, 'GET', p);
            assert.equal(r.status, status, p);
            assert.match(r.headers['content-type'], /^application\/json/);
        }
        r = await request(port, 'GET', '/block/placeholder.txt');
        assert.equal(r.status, 200);
        assert.equal(r.body.toString(), 'PLACEHOLDER\n');
        // Still alive and working.
        const k = blockKeys();
        const w = await writeBlock(port, k, { alive: true });
        assert.equal(w.status, 200);
        assert.equal(srv.proc.exitCode, null);
    } finally {
        await srv.stop();
    }
});
