// Integration: `blindpad owners` and `blindpad access` (libblindpad meta.c:
// GET_METADATA / SET_METADATA) against a fresh blindpad-server, with three
// identities in three session sandboxes (alice owns, bob and carol do not at
// first): listing, adding and removing owners, pending owners accepting,
// restricting access and checking that `blindpad cat` is refused for a key
// that is not allowed and works for one that is, files (blob metadata goes to
// the blob's own log, Q17), and the error cases (not an owner, bad key, view
// link, last owner, nothing at the link).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startServer, cliSandbox } = require('./lib.js');
const Crypto = require('chainpad-crypto');

const alice = cliSandbox('bp-meta-a-');
const bob = cliSandbox('bp-meta-b-');
const carol = cliSandbox('bp-meta-c-');
const nobody = cliSandbox('bp-meta-n-'); // never gets a session

let srv;
test.before(async () => {
    srv = await startServer({ args: ['--sandbox-port', '0'] });
    for (const c of [alice, bob, carol, nobody]) c.server = `http://127.0.0.1:${srv.port}`;
});
test.after(async () => {
    if (srv) await srv.stop();
    for (const c of [alice, bob, carol, nobody]) fs.rmSync(c.tmp, { recursive: true, force: true });
});

const json = (r) => { assert.equal(r.code, 0, r.stderr); return JSON.parse(r.stdout); };

// An identity for c: an owned pad of its own makes the session.
async function identity(c) {
    json(await c.run(['--json', 'new', 'code', 'mine', '--owned']));
    return c.session().edPublic;
}

let A, B, C;
test('owners and access of a document', async () => {
    const made = json(await alice.run(['--json', 'new', 'code', 'secret text', '--owned']));
    const link = made.link, view = made.view;
    A = alice.session().edPublic;
    B = await identity(bob);
    C = await identity(carol);
    assert.equal(A.length, 44);

    // list: JSON and text ("(you)")
    let o = json(await alice.run(['--json', 'owners', link]));
    assert.deepEqual(o.owners, [A]);
    assert.deepEqual(o.pending_owners, []);
    assert.equal(o.you, A);
    assert.equal(o.you_own, true);
    assert.equal(o.channel, made.channel);
    let r = await alice.run(['owners', link]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${A.replace(/[+/]/g, '\\$&')}\\s+\\(you\\)`));

    // another identity, and a view link, can list
    o = json(await bob.run(['--json', 'owners', view]));
    assert.deepEqual(o.owners, [A]);
    assert.equal(o.you_own, false);
    o = json(await nobody.run(['--json', 'owners', link]));
    assert.equal(o.you, null);

    // bob is not an owner: clear error, exit 5, nothing changed
    r = await bob.run(['owners', link, 'add', 'me']);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /you are not an owner of this document/);
    r = await bob.run(['access', link, 'restrict', 'on']);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /you are not an owner of this document/);
    // no session at all
    r = await nobody.run(['owners', link, 'add', B]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /no session/);

    // bad keys, bad verbs, a view link trying to change
    r = await alice.run(['owners', link, 'add', 'not-a-key']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not a public key/);
    r = await alice.run(['owners', link, 'add', B.replace(/=$/, '')]);
    assert.equal(r.code, 1);
    r = await alice.run(['owners', link, 'add']);
    assert.equal(r.code, 1);
    r = await alice.run(['owners', link, 'frobnicate']);
    assert.equal(r.code, 1);
    r = await alice.run(['access', link, 'restrict', 'maybe']);
    assert.equal(r.code, 1);
    r = await alice.run(['owners', view, 'add', B]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /view \(read-only\) link/);
    r = await alice.run(['owners', 'https://example.com/code/#/2/code/edit/short/']);
    assert.equal(r.code, 3);

    // add bob as an owner: he can now change things
    o = json(await alice.run(['--json', 'owners', link, 'add', B]));
    assert.deepEqual(o.owners, [A, B]);
    o = json(await bob.run(['--json', 'owners', link]));
    assert.equal(o.you_own, true);

    // restrict: nobody and carol can no longer read; alice and bob can
    let a = json(await alice.run(['--json', 'access', link]));
    assert.equal(a.restricted, false);
    a = json(await bob.run(['--json', 'access', link, 'restrict', 'on']));
    assert.equal(a.restricted, true);
    assert.deepEqual(a.allowed, []);
    for (const c of [nobody, carol]) {
        r = await c.run(['cat', link]);
        assert.equal(r.code, 3, r.stderr);
        assert.match(r.stderr, /not allowed/);
        assert.equal(r.stdout, '');
    }
    for (const c of [alice, bob]) {
        r = await c.run(['cat', link]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, 'secret text');
    }
    // what carol sees of the metadata: the server's stand-in
    a = json(await carol.run(['--json', 'access', link]));
    assert.equal(a.restricted, true);
    assert.equal(a.rejected, true);
    assert.equal(a.you_may_open, false);
    assert.deepEqual(a.allowed.sort(), [A, B].sort());
    r = await carol.run(['owners', link]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /not on its access list/);

    // allow carol (an owner in the list is noted, not added)
    a = json(await alice.run(['--json', 'access', link, 'allow', C, B]));
    assert.deepEqual(a.allowed, [C]);
    r = await carol.run(['cat', link]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'secret text');
    a = json(await carol.run(['--json', 'access', link]));
    assert.equal(a.you_may_open, true);
    // deny her again
    a = json(await alice.run(['--json', 'access', link, 'deny', C]));
    assert.deepEqual(a.allowed, []);
    r = await carol.run(['cat', link]);
    assert.equal(r.code, 3);
    // off again: everybody with the link
    a = json(await alice.run(['--json', 'access', link, 'restrict', 'off']));
    assert.equal(a.restricted, false);
    r = await nobody.run(['cat', link]);
    assert.equal(r.code, 0, r.stderr);

    // pending ownership: offered to carol, accepted by her
    o = json(await alice.run(['--json', 'owners', link, 'add', '--pending', C]));
    assert.deepEqual(o.pending_owners, [C]);
    assert.deepEqual(o.owners, [A, B]);
    r = await carol.run(['access', link, 'restrict', 'on']); // pending is not an owner yet
    assert.equal(r.code, 5);
    assert.match(r.stderr, /you are not an owner/);
    o = json(await carol.run(['--json', 'owners', link, 'accept']));
    assert.deepEqual(o.owners, [A, B, C]);
    assert.deepEqual(o.pending_owners, []);
    r = await carol.run(['owners', link, 'accept']); // nothing pending any more: still fine
    assert.equal(r.code, 0, r.stderr);
    r = await nobody.run(['owners', link, 'accept']);
    assert.equal(r.code, 3);

    // remove: bob removes carol, then himself; alice cannot remove a stranger
    o = json(await bob.run(['--json', 'owners', link, 'remove', C]));
    assert.deepEqual(o.owners, [A, B]);
    o = json(await bob.run(['--json', 'owners', link, 'remove', 'me']));
    assert.deepEqual(o.owners, [A]);
    assert.equal(o.you_own, false);
    r = await bob.run(['owners', link, 'remove', A]);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /you are not an owner/);
    r = await alice.run(['owners', link, 'remove', C]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is not an owner/);
    // the last owner needs --force
    r = await alice.run(['owners', link, 'remove', 'me']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /without owners/);
    o = json(await alice.run(['--json', 'owners', link]));
    assert.deepEqual(o.owners, [A]);
});

test('owners of a file (blob metadata in the blob log, Q17); unowned and missing', async () => {
    const f = path.join(alice.tmp, 'note.txt');
    fs.writeFileSync(f, 'file body\n');
    const up = json(await alice.run(['--json', 'upload', f, '--owned']));
    let o = json(await alice.run(['--json', 'owners', up.link]));
    assert.equal(o.kind, 'file');
    assert.deepEqual(o.owners, [A]);
    o = json(await alice.run(['--json', 'owners', up.link, 'add', B]));
    assert.deepEqual(o.owners, [A, B]);
    // on disk, in the blob's own metadata log (not in datastore/)
    const log = fs.readFileSync(path.join(srv.dataDir, 'blob', up.id.slice(0, 2), `${up.id}.metadata.ndjson`), 'utf8');
    assert.match(log, /\["ADD_OWNERS",\[".{44}"\],\d+\]/);
    assert.equal(fs.existsSync(path.join(srv.dataDir, 'datastore', up.id.slice(0, 2), `${up.id}.metadata.ndjson`)), false);
    o = json(await bob.run(['--json', 'owners', up.link]));
    assert.equal(o.you_own, true);
    let r = await carol.run(['owners', up.link, 'add', 'me']);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /you are not an owner of this file/);

    // an unowned file: no owners, nothing can change
    const up2 = json(await carol.run(['--json', 'upload', f]));
    o = json(await carol.run(['--json', 'owners', up2.link]));
    assert.deepEqual(o.owners, []);
    r = await carol.run(['owners', up2.link, 'add', 'me']);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /has no owners/);

    // a document link that was never created
    const keys = Crypto.createEditCryptor2();
    r = await alice.run(['owners', `http://127.0.0.1:${srv.port}/code/#/2/code/edit/${keys.editKeyStr}/`]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /nothing at this link/);
});
