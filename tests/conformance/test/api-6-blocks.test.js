'use strict';
// SERVER-API.md §8 items 57-64: login blocks (§3.4, §6) and the /api/auth HTTP commands (§3.7).
// Sequential: item 63 switches registration off for the whole (external) server for a moment.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const {
    startApiServer, Rpc, keyPair, pub, b64, needsHttp, needsAdmin, request, short, authCommand,
    makeBlock, blockPath, writeBlock, registrationProof, base32, totp, tryConfig, nacl, EXTERNAL, IS_REFERENCE, sleep,
} = require('../lib/api');

let srv;
before(async () => { srv = await startApiServer({ name: 'api-blocks' }); });
after(async () => { if (srv) { await srv.stop(); } });

const randomTxid = () => crypto.randomBytes(24).toString('base64').replace(/\//g, '-');

function assertWritten(res) {
    assert.equal(res.s1.status, 200, `stage 1: ${short(res.s1)}`);
    assert.equal(res.s2.status, 200, `stage 2: ${short(res.s2)}`);
    assert.equal(res.s2.body.length, 0, `empty body: ${short(res.s2)}`);
}

describe('§8 login blocks and HTTP commands', () => {
    it('§8.57 GET /block/AA/<44 chars> for an unknown key → 404 {"code":404}; a short id → 404 {"error":"INVALID_ID"}', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const k = pub(keyPair()).replace(/\//g, '-');
        const r = await request(srv.http, 'GET', `/block/AA/${k}`);
        assert.equal(r.status, 404, short(r));
        assert.match(r.headers['content-type'], /^application\/json/);
        assert.deepEqual(r.json, { code: 404 });
        const r2 = await request(srv.http, 'GET', blockPath(keyPair()));
        assert.equal(r2.status, 404);
        assert.deepEqual(r2.json, { code: 404 });
        const s = await request(srv.http, 'GET', '/block/AA/short');
        assert.equal(s.status, 404, short(s));
        assert.deepEqual(s.json, { error: 'INVALID_ID' });
    });

    it('§8.58 WRITE_BLOCK (2 stages) with a valid signature over SHA-512(ciphertext) → stage 2 200, empty body; GET /block returns exactly the bytes', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const B = keyPair();
        const res = await writeBlock(srv.http, B);
        assert.match(res.s1.json.txid, /^[A-Za-z0-9+=-]{32}$/);
        assert.match(res.s1.json.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assertWritten(res);
        const g = await request(srv.http, 'GET', blockPath(B));
        assert.equal(g.status, 200, short(g));
        assert.match(g.headers['content-type'], /^application\/octet-stream/);
        assert.ok(g.body.equals(res.block.bytes), 'exactly the ciphertext bytes');
        // an overwrite by the key's holder replaces it
        const res2 = await writeBlock(srv.http, B);
        assertWritten(res2);
        const g2 = await request(srv.http, 'GET', blockPath(B));
        assert.ok(g2.body.equals(res2.block.bytes));
    });

    it('§8.59 WRITE_BLOCK with a bad block signature → stage 2 500 errorCode E_COULD_NOT_VERIFY; content.publicKey ≠ publicKey → stage 1 500 {"error":"INVALID_KEY"}', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const B = keyPair();
        const bad = await writeBlock(srv.http, B, {}, { badSignature: true });
        assert.equal(bad.s1.status, 200, short(bad.s1));
        assert.equal(bad.s2.status, 500, short(bad.s2));
        assert.equal(bad.s2.json.error, 'Execution error');
        assert.equal(bad.s2.json.errorCode, 'E_COULD_NOT_VERIFY');
        assert.equal((await request(srv.http, 'GET', blockPath(B))).status, 404, 'nothing written');
        const other = makeBlock(keyPair());
        const mismatch = await authCommand(srv.http, B, 'WRITE_BLOCK', { content: other.content });
        assert.equal(mismatch.s1.status, 500, short(mismatch.s1));
        assert.deepEqual(mismatch.s1.json, { error: 'INVALID_KEY' });
        assert.equal(mismatch.s2, undefined);
    });

    it('§8.60 stage 2 with an unknown txid → 500 "Unexpected response"; with an extra key → "extraneous parameters"; the same txid answered twice → the second fails', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const kp = keyPair();
        const sig = b64(nacl.sign.detached(Buffer.from('x'), kp.secretKey));
        const u = await request(srv.http, 'POST', '/api/auth/', { body: { sig, txid: randomTxid() } });
        assert.equal(u.status, 500, short(u));
        assert.deepEqual(u.json, { error: 'Unexpected response' });
        const x = await request(srv.http, 'POST', '/api/auth/', { body: { sig, txid: randomTxid(), extra: 1 } });
        assert.equal(x.status, 500, short(x));
        assert.deepEqual(x.json, { error: 'extraneous parameters' });
        const ok = await authCommand(srv.http, kp, 'UPLOAD_COOKIE', { id: 'x' });
        assert.equal(ok.s2.status, 200, short(ok.s2));
        // (the reference deletes the challenge asynchronously after reading it: an immediate
        // second answer can still find it, observed once in a few runs; see docs/notes/conformance.md)
        if (IS_REFERENCE) { await sleep(150); }
        const twice = await request(srv.http, 'POST', '/api/auth/', { body: ok.s2Body });
        assert.equal(twice.status, 500, short(twice));
        assert.deepEqual(twice.json, { error: 'Unexpected response' });
    });

    it('§8.61 the stage-2 signature must be over JSON.stringify({...stage1Body, txid, date}); anything else → "Failed signature validation"', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const kp = keyPair();
        const variants = [
            (s1text) => s1text, // the stage-1 body alone
            (s1text, ch) => JSON.stringify({ txid: ch.txid, date: ch.date, ...JSON.parse(s1text) }), // other key order
            (s1text, ch) => JSON.stringify({ ...JSON.parse(s1text), txid: ch.txid }), // no date
            (s1text, ch) => JSON.stringify({ ...JSON.parse(s1text), txid: ch.txid, date: ch.date }, null, 1), // whitespace
        ];
        for (const signOver of variants) {
            const r = await authCommand(srv.http, kp, 'UPLOAD_COOKIE', { id: 'x' }, { signOver });
            assert.equal(r.s1.status, 200);
            assert.equal(r.s2.status, 500, short(r.s2));
            assert.deepEqual(r.s2.json, { error: 'Failed signature validation' });
            // the challenge is gone after the failed answer (§1.10)
            const good = JSON.stringify({ ...r.stage1Body, txid: r.challenge.txid, date: r.challenge.date });
            if (IS_REFERENCE) { await sleep(150); } // asynchronous deletion, as in item 60
            const retry = await request(srv.http, 'POST', '/api/auth/', {
                body: { sig: b64(nacl.sign.detached(Buffer.from(good), kp.secretKey)), txid: r.challenge.txid },
            });
            assert.equal(retry.status, 500);
            assert.deepEqual(retry.json, { error: 'Unexpected response' });
        }
        // signed by another key
        const r = await authCommand(srv.http, kp, 'UPLOAD_COOKIE', { id: 'x' }, { kp: keyPair() });
        assert.deepEqual(r.s2.json, { error: 'Failed signature validation' });
        // the right bytes work
        const ok = await authCommand(srv.http, kp, 'UPLOAD_COOKIE', { id: 'x' });
        assert.equal(ok.s2.status, 200, short(ok.s2));
    });

    it('§8.62 REMOVE_BLOCK reason "X" → then GET /block → 404 {"reason":"X","code":404}', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const B = keyPair();
        assertWritten(await writeBlock(srv.http, B));
        const rm = await authCommand(srv.http, B, 'REMOVE_BLOCK', { reason: 'X' });
        assert.equal(rm.s1.status, 200, short(rm.s1));
        assert.equal(rm.s2.status, 200, short(rm.s2));
        assert.equal(rm.s2.body.length, 0);
        const g = await request(srv.http, 'GET', blockPath(B));
        assert.equal(g.status, 404, short(g));
        assert.deepEqual(g.json, { reason: 'X', code: 404 });
        if (srv.dataDir) {
            const k = pub(B).replace(/\//g, '-');
            assert.ok(fs.existsSync(path.join(srv.dataDir, 'data', 'archive', 'block', k.slice(0, 2), k)), 'the block is archived');
        }
    });

    it('§8.63 with restrictRegistration on: a new WRITE_BLOCK without a proof or invite → E_RESTRICTED; with a valid registrationProof → success', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const old = keyPair();
        let target = srv; let local = null; let admin = null; let dir = null; const logDirs = [];
        if (EXTERNAL) {
            if (needsAdmin(t, srv)) { return; }
            assertWritten(await writeBlock(srv.http, old));
            admin = await Rpc.open(srv);
            await admin.decree('RESTRICT_REGISTRATION', [true]);
        } else {
            // write the old block on an open server, then restart the same data dir restricted
            dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blindpad-conf-restrict-'));
            const open = await startApiServer({ name: 'api-blocks-open', dataDir: dir });
            try { assertWritten(await writeBlock(open.http, old)); } finally { await open.stop(); logDirs.push(path.dirname(open.logFile)); }
            local = await startApiServer({ name: 'api-blocks-restricted', dataDir: dir, args: ['--restrict-registration', '1'] });
            target = local;
            logDirs.push(path.dirname(local.logFile));
        }
        try {
            const cfg = await tryConfig(target.http);
            if (cfg) { assert.equal(cfg.restrictRegistration, true, '/api/config shows the restriction'); }
            const B = keyPair();
            const refused = await writeBlock(target.http, B);
            assert.equal(refused.s1.status, 200, short(refused.s1));
            assert.equal(refused.s2.status, 500, short(refused.s2));
            assert.equal(refused.s2.json.errorCode, 'E_RESTRICTED', short(refused.s2));
            assert.equal((await request(target.http, 'GET', blockPath(B))).status, 404);
            // a proof for a key without a block is refused too
            const ghost = keyPair();
            const r2 = await writeBlock(target.http, B, { registrationProof: registrationProof(ghost) });
            assert.equal(r2.s2.json && r2.s2.json.errorCode, 'E_RESTRICTED', short(r2.s2));
            // a proof signed by another key is refused
            const forged = JSON.stringify([pub(old), b64(nacl.sign.detached(old.publicKey, keyPair().secretKey))]);
            const r3 = await writeBlock(target.http, B, { registrationProof: forged });
            assert.equal(r3.s2.json && r3.s2.json.errorCode, 'E_RESTRICTED', short(r3.s2));
            const ok = await writeBlock(target.http, B, { registrationProof: registrationProof(old) });
            assertWritten(ok);
            const g = await request(target.http, 'GET', blockPath(B));
            assert.equal(g.status, 200);
            assert.ok(g.body.equals(ok.block.bytes));
        } finally {
            if (admin) { await admin.decree('RESTRICT_REGISTRATION', [false]); admin.close(); }
            if (local) { await local.stop(); }
            if (dir) { fs.rmSync(dir, { recursive: true, force: true }); }
            // (servers started on a given data dir keep their temp dir of logs)
            if (process.env.CONFORMANCE_KEEP !== '1') { logDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })); }
        }
    });

    it('§8.64 TOTP: after TOTP_SETUP GET /block → 401; MFA_CHECK and WRITE_BLOCK → NOT_ALLOWED; TOTP_VALIDATE → {bearer}; Bearer → 200; a wrong bearer → 401', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const B = keyPair();
        const w = await writeBlock(srv.http, B);
        assertWritten(w);
        // MFA_CHECK before: allowed, empty result
        const pre = await authCommand(srv.http, B, 'MFA_CHECK');
        assert.equal(pre.s2 && pre.s2.status, 200, short(pre.s2 || pre.s1));
        const secretBytes = crypto.randomBytes(20);
        const secret = base32(secretBytes);
        assert.equal(secret.length, 32);
        const badSetup = await authCommand(srv.http, B, 'TOTP_SETUP', { secret, code: totp(secretBytes, Date.now() - 10 * 60000) });
        assert.equal(badSetup.s1.status, 500, short(badSetup.s1));
        assert.deepEqual(badSetup.s1.json, { error: 'INVALID_OTP' });
        const setup = await authCommand(srv.http, B, 'TOTP_SETUP', { secret, code: totp(secretBytes), contact: 'conformance@example.org' });
        assert.equal(setup.s1.status, 200, short(setup.s1));
        assert.equal(setup.s2.status, 200, short(setup.s2));
        assert.deepEqual(Object.keys(setup.s2.json), ['bearer']);
        assert.match(setup.s2.json.bearer, /^[A-Za-z0-9+=-]{32}$/);

        const g = await request(srv.http, 'GET', blockPath(B));
        assert.equal(g.status, 401, short(g));
        assert.deepEqual(g.json, { sso: false, method: 'TOTP', code: 401 });
        const mfa = await authCommand(srv.http, B, 'MFA_CHECK');
        assert.equal(mfa.s1.status, 500, short(mfa.s1));
        assert.deepEqual(mfa.s1.json, { error: 'NOT_ALLOWED' });
        const wb = await writeBlock(srv.http, B);
        assert.equal(wb.s1.status, 500, short(wb.s1));
        assert.deepEqual(wb.s1.json, { error: 'NOT_ALLOWED' });
        const again = await authCommand(srv.http, B, 'TOTP_SETUP', { secret, code: totp(secretBytes) });
        assert.deepEqual(again.s1.json, { error: 'EEXISTS' });

        const wrongCode = await authCommand(srv.http, B, 'TOTP_VALIDATE', { code: totp(secretBytes, Date.now() - 10 * 60000) });
        assert.equal(wrongCode.s1.status, 500);
        assert.deepEqual(wrongCode.s1.json, { error: 'INVALID_OTP' });
        // the next 30-s step's code (within the ±1 window) rather than the one used for the setup
        const v = await authCommand(srv.http, B, 'TOTP_VALIDATE', { code: totp(secretBytes, Date.now() + 30000) });
        assert.equal(v.s1.status, 200, short(v.s1));
        assert.equal(v.s2.status, 200, short(v.s2));
        assert.match(v.s2.json.bearer, /^[A-Za-z0-9+=-]{32}$/);
        assert.notEqual(v.s2.json.bearer, setup.s2.json.bearer);

        for (const bearer of [v.s2.json.bearer, setup.s2.json.bearer]) {
            const ok = await request(srv.http, 'GET', blockPath(B), { headers: { Authorization: `Bearer ${bearer}` } });
            assert.equal(ok.status, 200, short(ok));
            assert.ok(ok.body.equals(w.block.bytes));
        }
        const wrong = await request(srv.http, 'GET', blockPath(B), { headers: { Authorization: `Bearer ${randomTxid()}` } });
        assert.equal(wrong.status, 401, short(wrong));
        assert.deepEqual(wrong.json, { sso: false, method: 'TOTP', code: 401 });
        const junk = await request(srv.http, 'GET', blockPath(B), { headers: { Authorization: 'Bearer ../../../etc/passwd' } });
        assert.equal(junk.status, 401, short(junk));
    });
});
