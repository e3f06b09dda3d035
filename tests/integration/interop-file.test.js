// Integration, issue 5 §3c (the reverse of cli.test.js's 'JS interop' test): a
// file encrypted in JS exactly as CryptPad's www/file/file-crypto.js encrypt()
// does, with the key from chainpad-crypto's createFileCryptor2 (as
// Hash.getSecrets('file', ...) and the file app do), uploaded as
// www/common/outer/upload.js does (signed UPLOAD_STATUS with the JS size
// estimate, /api/auth UPLOAD_COOKIE for the blob id, one JSON POST to
// /upload-blob/<xx>/<id> per encrypted part with the rotating cookie,
// UPLOAD_COMPLETE / OWNED_UPLOAD_COMPLETE), then `blindpad download LINK -o
// FILE` must give the same bytes and the metadata's name. file-crypto.js and
// upload.js are re-implemented below from CryptPad's source (not copied).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const nacl = require('tweetnacl');
const Crypto = require('chainpad-crypto');
const { startServer, cliSandbox, ROOT } = require('./lib.js');
const api = require(path.join(ROOT, 'tests/conformance/lib/api.js'));

const PLAIN_CHUNK = 128 * 1024;

// file-crypto.js: nonce of 24 zero bytes, incremented big-endian after every box.
function increment(N) {
    for (let l = N.length - 1; l >= 0; l--) {
        if (N[l] !== 255) { N[l] += 1; return; }
        if (l === 0) throw new Error('E_NONCE_TOO_LARGE');
        N[l] = 0;
    }
}

// file-crypto.js encrypt(): the parts `next()` hands to upload.js, in order:
// [u16 BE length | secretbox(JSON metadata)], then one secretbox per 128 KiB
// of the file; an empty file still gets one (empty) box.
function encryptParts(u8, metadata, key) {
    const nonce = new Uint8Array(24);
    const parts = [];
    const plain = Buffer.from(JSON.stringify(metadata), 'utf8');
    const mbox = nacl.secretbox(new Uint8Array(plain), nonce, key);
    increment(nonce);
    assert.ok(mbox.length <= 65535);
    parts.push(Buffer.concat([Buffer.from([(mbox.length & 0xff00) >> 8, mbox.length & 0xff]), Buffer.from(mbox)]));
    let i = 0;
    for (;;) {
        const part = u8.subarray(i * PLAIN_CHUNK, (i + 1) * PLAIN_CHUNK);
        parts.push(Buffer.from(nacl.secretbox(part, nonce, key)));
        increment(nonce);
        i++;
        if (i * PLAIN_CHUNK >= u8.length) break;
    }
    return parts;
}

// file-crypto.js computeEncryptedSize(): what upload.js declares (16 short
// for an empty file, whose one empty box it does not count).
function computeEncryptedSize(bytes, meta) {
    const metasize = Buffer.byteLength(JSON.stringify(meta), 'utf8');
    return metasize + 18 + Math.ceil(bytes / PLAIN_CHUNK) * 16 + bytes;
}

let srv, base, cli;
test.before(async () => {
    srv = await startServer({ args: ['--sandbox-port', '0'] });
    base = `http://127.0.0.1:${srv.port}`;
    cli = cliSandbox('bp-interop-file-');
    cli.server = base;
});
test.after(async () => {
    if (srv) await srv.stop();
    if (cli) fs.rmSync(cli.tmp, { recursive: true, force: true });
});

// upload.js uploadU8 with a fresh file key; returns the link the web client shows.
async function jsUpload(u8, metadata, { owned = false, password } = {}) {
    const kp = nacl.sign.keyPair();
    const secret = Crypto.createFileCryptor2(undefined, password);
    const id = Buffer.from(secret.chanId.replace(/-/g, '/'), 'base64').toString('hex'); // Hash.base64ToHex
    assert.equal(id.length, 48);
    const meta = owned ? { ...metadata, owners: [api.b64(kp.publicKey)] } : metadata;
    const parts = encryptParts(u8, meta, secret.cryptKey);
    const estimate = computeEncryptedSize(u8.length, meta);
    const rpc = await api.Rpc.open(srv, kp);
    try {
        const st = await rpc.signed('UPLOAD_STATUS', { id, size: estimate });
        assert.deepEqual(st.slice(2), [false], JSON.stringify(st));
        const r = await api.authCommand(base, kp, 'UPLOAD_COOKIE', { id });
        assert.equal(r.s2 && r.s2.status, 200, JSON.stringify(r.s2 && r.s2.json));
        let cookie = r.s2.json.cookie;
        for (const part of parts) {
            const res = await api.uploadChunk(base, kp, cookie, part, { id });
            assert.equal(res.status, 200, res.text);
            cookie = res.json.cookie;
        }
        const done = await rpc.signed(owned ? 'OWNED_UPLOAD_COMPLETE' : 'UPLOAD_COMPLETE', id);
        assert.notEqual(done[1], 'ERROR', JSON.stringify(done));
    } finally { rpc.close(); }
    // Hash.getFileHashFromKeys: /2/file/<fileKeyStr>/ (+ p/ with a password)
    const hash = `/2/file/${secret.fileKeyStr}/${password ? 'p/' : ''}`;
    return { id, link: `${base}/file/#${hash}`, blobSize: parts.reduce((n, p) => n + p.length, 0) };
}

async function roundTrip(t, name, size, opts = {}) {
    const data = crypto.randomBytes(size);
    const up = await jsUpload(new Uint8Array(data), { name, type: 'application/octet-stream' }, opts);
    assert.equal(fs.statSync(path.join(srv.dataDir, 'blob', up.id.slice(0, 2), up.id)).size, up.blobSize);
    const out = path.join(cli.tmp, `out-${size}`);
    const env = opts.password ? { password: opts.password } : {};
    const r = await cli.run(['--json', 'download', up.link, '-o', out], env);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.name, name);
    assert.ok(fs.readFileSync(out).equals(data), `${size} bytes identical`);
    // without -o the file gets the metadata's name, in the current directory
    const r2 = await cli.run(['download', up.link], env);
    assert.equal(r2.code, 0, r2.stderr);
    assert.ok(fs.readFileSync(path.join(cli.tmp, name)).equals(data));
    fs.rmSync(path.join(cli.tmp, name));
    t.diagnostic(`${size} bytes: ${up.blobSize} encrypted, metadata name ${JSON.stringify(name)}`);
}

test('JS-encrypted, JS-uploaded file: blindpad download gives the same bytes and name', async (t) => {
    await roundTrip(t, 'small.bin', 1000);
});

test('multi-chunk (3 boxes + a partial one), owned, non-ASCII name', async (t) => {
    await roundTrip(t, 'größe — 3½ chunks.bin', 3 * PLAIN_CHUNK + 777, { owned: true });
});

test('exactly one chunk, and exactly two chunks', async (t) => {
    await roundTrip(t, 'one.bin', PLAIN_CHUNK);
    await roundTrip(t, 'two.bin', 2 * PLAIN_CHUNK);
});

test('empty file (one empty box; the JS estimate is 16 bytes short)', async (t) => {
    await roundTrip(t, 'empty.txt', 0);
});

test('password-protected file link (createFileCryptor2 with a password)', async (t) => {
    await roundTrip(t, 'secret.bin', 5000, { password: 'pässword' });
});
