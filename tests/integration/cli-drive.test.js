// Integration: the drive commands (libblindpad drive.c; `blindpad ls`, `rm`,
// `passwd`, and `upload`/`new` adding to the drive when logged in) against a
// fresh blindpad-server. The pin list is checked from JS with the suite's own
// RPC client (tests/conformance/lib/api.js: GET_HASH over the sorted channel
// set, GET_TOTAL_SIZE), and the drive the C side wrote is read back by
// CryptPad's JS stack (chainpad-netflux + chainpad-crypto).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const nacl = require('tweetnacl');
const { startServer, cliSandbox, driveKeys, readDrive, ROOT } = require('./lib.js');
const { Rpc, pinHash } = require(path.join(ROOT, 'tests/conformance/lib/api.js'));

const cli = cliSandbox('bp-cli-drive-');
const { tmp, sessionFile, run, session } = cli;
const kpOf = (s) => nacl.sign.keyPair.fromSecretKey(new Uint8Array(Buffer.from(s.edPrivate, 'base64')));
// The drive as CryptPad's JS stack reads it.
const jsDrive = (userHash) => readDrive(srv.url || `ws://127.0.0.1:${srv.port}/cryptpad_websocket`, userHash);

async function pins(s) {
    const rpc = await Rpc.open(srv, kpOf(s));
    try {
        const [hash] = await rpc.ok('GET_HASH', s.edPublic);
        const [size] = await rpc.ok('GET_TOTAL_SIZE', s.edPublic);
        return { hash, size };
    } finally { rpc.close(); }
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

test('drive: upload and new add to the drive; ls; pins; rm; passwd', async () => {
    const r = await run(['register', 'dora'], { password: 'dora-password' });
    assert.equal(r.code, 0, r.stderr);

    // before anything: ls is empty (the drive gets its members)
    let ls = await run(['--json', 'ls']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.deepEqual(JSON.parse(ls.stdout), []);

    const file = path.join(tmp, 'notes.txt');
    fs.writeFileSync(file, 'hello drive\n'.repeat(100));
    const up = await run(['--json', 'upload', file]);
    assert.equal(up.code, 0, up.stderr);
    assert.doesNotMatch(up.stderr, /not added/);
    const upOut = JSON.parse(up.stdout);
    const nw = await run(['--json', 'new', 'code', '--title', 'My code', 'print(1)']);
    assert.equal(nw.code, 0, nw.stderr);
    assert.doesNotMatch(nw.stderr, /not added/);
    const newOut = JSON.parse(nw.stdout);

    ls = await run(['--json', 'ls']);
    assert.equal(ls.code, 0, ls.stderr);
    const items = JSON.parse(ls.stdout);
    assert.equal(items.length, 2, ls.stdout);
    const f = items.find((i) => i.kind === 'file'), p = items.find((i) => i.kind === 'pad');
    assert.ok(f && p, ls.stdout);
    assert.equal(f.title, 'notes.txt');
    assert.equal(f.channel, upOut.id);
    assert.equal(f.type, 'file');
    assert.equal(p.title, 'My code');
    assert.equal(p.channel, newOut.channel);
    assert.equal(p.type, 'code');
    assert.equal(server + p.href, newOut.link);
    const text = await run(['ls']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^code +My code\t/m);
    assert.match(text.stdout, /^file +notes\.txt\t/m);

    // the pin list: drive channel + pad + file
    const s = session();
    const { doc, channel: driveChan } = await jsDrive(s.userHash);
    let pl = await pins(s);
    assert.equal(pl.hash, pinHash([driveChan, upOut.id, newOut.channel]));
    assert.ok(pl.size > 1200, `total size ${pl.size}`);

    // the drive as the JS stack reads it: the web client's structure
    assert.equal(doc.edPublic, s.edPublic);
    for (const k of ['root', 'filesData', 'trash', 'sharedFolders']) assert.equal(typeof doc.drive[k], 'object', k);
    const ids = Object.values(doc.drive.root);
    assert.equal(ids.length, 2);
    for (const id of ids) {
        assert.equal(typeof id, 'number');
        const e = doc.drive.filesData[String(id)];
        assert.ok(e, 'filesData entry for ' + id);
        assert.match(e.href, /^\/(file|code)\/#\/2\//);
        assert.equal(typeof e.atime, 'number');
        assert.equal(typeof e.ctime, 'number');
        assert.match(e.channel, /^[0-9a-f]{32}([0-9a-f]{16})?$/);
    }

    // rm: to the trash (still pinned, as in the web client)
    let rm = await run(['rm', 'My code']);
    assert.equal(rm.code, 0, rm.stderr);
    ls = await run(['--json', 'ls']);
    assert.deepEqual(JSON.parse(ls.stdout).map((i) => i.title), ['notes.txt']);
    const tr = await run(['--json', 'ls', '--trash']);
    assert.deepEqual(JSON.parse(tr.stdout).map((i) => i.title), ['My code']);
    const d2 = (await jsDrive(s.userHash)).doc.drive;
    const tkey = Object.keys(d2.trash)[0];
    assert.equal(d2.trash[tkey].length, 1);
    assert.deepEqual(d2.trash[tkey][0].path, ['root']);
    assert.equal(typeof d2.trash[tkey][0].element, 'number');
    assert.equal((await pins(s)).hash, pinHash([driveChan, upOut.id, newOut.channel]));

    // rm --forever by link: out of the drive and unpinned
    rm = await run(['rm', '--forever', upOut.link]);
    assert.equal(rm.code, 0, rm.stderr);
    ls = await run(['--json', 'ls']);
    assert.deepEqual(JSON.parse(ls.stdout), []);
    assert.equal((await pins(s)).hash, pinHash([driveChan, newOut.channel]));
    const missing = await run(['rm', 'nothing-here']);
    assert.equal(missing.code, 2, missing.stderr);

    // passwd: the new password logs in, the old one says it was changed
    const pw = await run(['passwd', 'dora'], { password: 'dora-password', env: { BLINDPAD_NEW_PASSWORD: 'dora-new-password' } });
    assert.equal(pw.code, 0, pw.stderr);
    const s3 = session();
    assert.notEqual(s3.userHash, s.userHash);
    assert.equal(s3.edPublic, s.edPublic);
    const oldLogin = await run(['login', 'dora'], { password: 'dora-password' });
    assert.equal(oldLogin.code, 2, oldLogin.stderr);
    assert.match(oldLogin.stderr, /this password was changed: log in with the new password/);
    const newLogin = await run(['login', 'dora'], { password: 'dora-new-password' });
    assert.equal(newLogin.code, 0, newLogin.stderr);
    // the copy keeps the trash; the pins follow the new drive
    const tr2 = await run(['--json', 'ls', '--trash']);
    assert.deepEqual(JSON.parse(tr2.stdout).map((i) => i.title), ['My code']);
    const newDrive = driveKeys(session().userHash).channel;
    assert.equal((await pins(s)).hash, pinHash([newDrive, newOut.channel]));

    // rm --destroy: an owned document is deleted on the server too
    const own = await run(['--json', 'new', 'code', '--owned', '--title', 'Owned one', 'secret']);
    assert.equal(own.code, 0, own.stderr);
    const ownOut = JSON.parse(own.stdout);
    assert.equal((await run(['cat', ownOut.link])).code, 0);
    const de = await run(['rm', '--destroy', 'Owned one']);
    assert.equal(de.code, 0, de.stderr);
    assert.match(de.stdout, /^destroyed Owned one/);
    const gone = await run(['cat', ownOut.link]);
    assert.equal(gone.code, 2, gone.stderr);

    assert.equal((await pins(s)).hash, pinHash([newDrive, newOut.channel]));

    // logged in to an account: new documents and uploads are owned by it unless --unowned,
    // as CryptPad's web client does for registered users
    const dflt = JSON.parse((await run(['--json', 'new', 'code', 'mine by default'])).stdout);
    assert.equal(dflt.owned, true);
    assert.deepEqual(JSON.parse((await run(['--json', 'owners', dflt.link])).stdout).owners, [session().edPublic]);
    const nobody = JSON.parse((await run(['--json', 'new', 'code', '--unowned', 'nobody\'s'])).stdout);
    assert.equal(nobody.owned, false);
    assert.deepEqual(JSON.parse((await run(['--json', 'owners', nobody.link])).stdout).owners, []);
    const both = await run(['new', 'code', '--owned', '--unowned']);
    assert.equal(both.code, 1);
    const mineFile = path.join(tmp, 'owned-by-default.txt');
    fs.writeFileSync(mineFile, 'mine\n');
    const upd = JSON.parse((await run(['--json', 'upload', mineFile])).stdout);
    assert.equal(upd.owned, true);
    assert.equal(upd.owner, session().edPublic);
    const upn = JSON.parse((await run(['--json', 'upload', '--unowned', mineFile])).stdout);
    assert.equal(upn.owned, false);
});

test('drive commands need an account session', async () => {
    fs.rmSync(sessionFile, { force: true });
    const ls = await run(['ls']);
    assert.equal(ls.code, 1);
    assert.match(ls.stderr, /not logged in/);
    const file = path.join(tmp, 'anon.txt');
    fs.writeFileSync(file, 'x');
    const up = await run(['upload', file]); // anonymous: no drive, no error
    assert.equal(up.code, 0, up.stderr);
    const bad = await run(['passwd', 'nobody'], { password: 'whatever-pw', env: { BLINDPAD_NEW_PASSWORD: 'another-pw' } });
    assert.equal(bad.code, 3, bad.stderr);
});
