// Integration: `blindpad edit LINK` when someone else writes to the document
// while the editor is open. $EDITOR is a shell script written here: it makes
// another writer (`blindpad append`, a separate process and connection)
// change the document, waits until the editing process has had time to see
// that message, then makes its own change to the file. Disjoint changes must
// both end up in the document (three-way merge, src/client/merge.c); changes
// to the same place must save nothing, exit 5, and leave the merged text with
// conflict markers in the kept file.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startServer, cliSandbox } = require('./lib.js');

const cli = cliSandbox('bp-cli-edit-');
const { tmp, run, bin } = cli;
const kept = [];

let srv;
test.before(async () => {
    srv = await startServer({ args: ['--sandbox-port', '0'] });
    cli.server = `http://127.0.0.1:${srv.port}`;
});
test.after(async () => {
    if (srv) await srv.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
    for (const f of kept) fs.rmSync(f, { force: true });
});

const sh = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

// An editor script: optionally runs `blindpad append LINK OTHER` first (the
// other writer), sleeps so that the editing process receives it, then runs
// EDIT (a sed script) on the file it was given.
function editor(name, { link, other, edit }) {
    const file = path.join(tmp, name);
    const lines = ['#!/bin/sh', 'set -e'];
    if (other !== undefined) {
        lines.push(`${sh(bin)} --server ${sh(cli.server)} append ${sh(link)} ${sh(other)} >/dev/null`);
        lines.push('sleep 1');
    }
    lines.push(`sed -i ${sh(edit)} "$1"`);
    fs.writeFileSync(file, lines.join('\n') + '\n', { mode: 0o755 });
    return file;
}

async function newPad(text) {
    const r = await run(['--json', 'new', 'code', text]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).link;
}

async function cat(link) {
    const r = await run(['cat', link]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
}

const base = 'line one\nline two\nline three\nline four\n';

test('edit without concurrent change saves', async () => {
    const link = await newPad(base);
    const ed = editor('ed-plain.sh', { link, edit: 's/^line two$/line 2/' });
    const r = await run(['edit', link], { env: { EDITOR: ed } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /saved/);
    assert.doesNotMatch(r.stderr, /merged/);
    assert.equal(await cat(link), 'line one\nline 2\nline three\nline four\n');
});

test('edit merges a disjoint change made meanwhile by another writer', async () => {
    const link = await newPad(base);
    // the other writer adds a line at the end; we change the first line
    const ed = editor('ed-merge.sh', { link, other: 'appended by someone else', edit: 's/^line one$/LINE ONE (mine)/' });
    const r = await run(['edit', link], { env: { EDITOR: ed } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /merged with changes made meanwhile by others/);
    assert.equal(await cat(link), 'LINE ONE (mine)\nline two\nline three\nline four\nappended by someone else\n');
});

test('edit with a conflicting change saves nothing and keeps the merge with markers', async () => {
    const link = await newPad(base);
    // both add a different last line: the same place, a conflict
    const ed = editor('ed-conflict.sh', { link, other: 'theirs at the end', edit: '$a mine at the end' });
    const r = await run(['edit', link], { env: { EDITOR: ed } });
    assert.equal(r.code, 5, r.stderr);
    const m = r.stderr.match(/(\/tmp\/blindpad-edit-[A-Za-z0-9]+)/);
    assert.ok(m, r.stderr);
    kept.push(m[1]);
    assert.match(r.stderr, /conflict/);
    // nothing of ours was written: only the other writer's line
    assert.equal(await cat(link), base + 'theirs at the end\n');
    assert.equal(fs.readFileSync(m[1], 'utf8'),
        base + '<<<<<<< yours\nmine at the end\n=======\ntheirs at the end\n>>>>>>> theirs\n');
    assert.equal((fs.statSync(m[1]).mode & 0o777), 0o600);
});

test('edit with a conflict and a disjoint change: still nothing written', async () => {
    const link = await newPad(base);
    const ed = editor('ed-conflict2.sh', { link, other: 'theirs', edit: '1s/.*/first (mine)/; $a mine' });
    const r = await run(['edit', link], { env: { EDITOR: ed } });
    assert.equal(r.code, 5, r.stderr);
    const m = r.stderr.match(/(\/tmp\/blindpad-edit-[A-Za-z0-9]+)/);
    assert.ok(m, r.stderr);
    kept.push(m[1]);
    assert.equal(await cat(link), base + 'theirs\n');
    assert.equal(fs.readFileSync(m[1], 'utf8'),
        'first (mine)\nline two\nline three\nline four\n<<<<<<< yours\nmine\n=======\ntheirs\n>>>>>>> theirs\n');
});

// The other writer keeps writing while `edit` saves: three appends start in
// the background as the editor exits, so they race with the save (which
// message wins is up to timing). Whatever the order, the document must end
// with our change and all three lines: bp_pad_write rebases over concurrent
// messages, and edit re-reads and merges again when the saved text is not
// what it wrote.
test('edit while another writer keeps appending: nothing lost', async () => {
    const link = await newPad(base);
    const done = path.join(tmp, 'appends-done');
    const file = path.join(tmp, 'ed-race.sh');
    const app = (t) => `${sh(bin)} --server ${sh(cli.server)} append ${sh(link)} ${sh(t)} >/dev/null`;
    fs.writeFileSync(file, ['#!/bin/sh', 'set -e',
        `( ${app('race 1')}; ${app('race 2')}; ${app('race 3')}; touch ${sh(done)} ) >/dev/null 2>&1 &`,
        'sed -i "s/^line one$/ONE (mine)/" "$1"', ''].join('\n'), { mode: 0o755 });
    const r = await run(['edit', link], { env: { EDITOR: file } });
    assert.equal(r.code, 0, r.stderr);
    for (let i = 0; i < 200 && !fs.existsSync(done); i++) await new Promise((ok) => setTimeout(ok, 50));
    assert.ok(fs.existsSync(done), 'the background appends finished');
    assert.equal(await cat(link), 'ONE (mine)\nline two\nline three\nline four\nrace 1\nrace 2\nrace 3\n');
});
