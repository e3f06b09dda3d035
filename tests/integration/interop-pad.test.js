// Interop: documents written by CryptPad's real JS stack (netflux-websocket +
// chainpad-netflux + chainpad-crypto + chainpad with SmartJSONTransformer, as
// the code app runs it) are read exactly by libblindpad (through the CLI:
// `blindpad cat`, `--json cat` for the ChainPad head), and changes written by
// libblindpad (`blindpad new`, `blindpad append`) are seen by a JS client with
// the same content and the same head hash, also when both write concurrently.
//
// Needs the document commands registered in build/blindpad (src/cli/main.c);
// otherwise the tests are skipped with that reason. BLINDPAD_CLI overrides the
// binary.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, sleep, ROOT } = require('./lib.js');
const { CPNF, ChainPad, Crypto, newPadKeys, connectNetwork } = require(path.join(ROOT, 'tests/conformance/lib/realstack.js'));
const Sortify = require('json.sortify');

const CLI = process.env.BLINDPAD_CLI || path.join(ROOT, 'build', 'blindpad');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-interop-pad-'));
const haveCmds = (() => {
    if (!fs.existsSync(CLI)) return false;
    const r = spawnSync(CLI, ['help', 'cat'], { encoding: 'utf8' });
    return r.status === 0 && /blindpad cat LINK/.test(r.stdout);
})();
const skip = haveCmds ? false : `${CLI} has no document commands (register cat/new/append in src/cli/main.c)`;

let srv, server;
test.before(async () => {
    srv = await startServer({ args: ['--sandbox-port', '0'] });
    server = `http://127.0.0.1:${srv.port}`;
});
test.after(async () => {
    if (srv) await srv.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
});

function run(args, input) {
    return new Promise((resolve) => {
        const p = spawn(CLI, ['--server', server, ...args], {
            env: { PATH: process.env.PATH, HOME: tmp, XDG_CONFIG_HOME: path.join(tmp, 'cfg') },
            stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        });
        let stdout = '', stderr = '';
        p.stdout.on('data', (d) => { stdout += d; });
        p.stderr.on('data', (d) => { stderr += d; });
        if (input !== undefined) { p.stdin.end(input); }
        p.on('close', (code) => resolve({ code, stdout, stderr }));
    });
}
async function cat(link) {
    const r = await run(['--json', 'cat', link]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
}

// A code pad in JS, as CryptPad's code app keeps it: JSON (json.sortify) with
// the text in "content", merged with SmartJSONTransformer.
async function openCodePad(keys, transformer = ChainPad.SmartJSONTransformer) {
    const network = await connectNetwork(srv.url);
    const pad = { network };
    await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('onReady timeout')), 20000);
        pad.cpnf = CPNF.start({
            network,
            channel: keys.channel,
            crypto: Crypto.createEncryptor({ cryptKey: keys.cryptKey, signKey: keys.signKey, validateKey: keys.validateKey }),
            validateKey: keys.validateKey,
            ChainPad,
            patchTransformer: transformer,
            validateContent: (c) => { try { JSON.parse(c); return true; } catch (e) { return false; } },
            readOnly: false,
            logLevel: 0,
            avgSyncMilliseconds: 100,
            onReady(info) { clearTimeout(timer); pad.realtime = info.realtime; resolve(); },
            onChannelError(e) { reject(new Error(JSON.stringify(e))); },
            onError(e) { reject(new Error(JSON.stringify(e))); },
            onConnectionChange() {},
        });
    });
    const rt = pad.realtime;
    pad.doc = () => { const d = rt.getUserDoc(); return d ? JSON.parse(d) : null; };
    pad.text = () => { const d = rt.getAuthDoc(); return d ? JSON.parse(d).content : ''; };
    pad.head = () => rt.getAuthBlock().hashOf;
    pad.setText = (t) => {
        const d = pad.doc() || { authormarks: {}, content: '', highlightMode: 'gfm', metadata: { defaultTitle: 'JS', title: 'JS', type: 'code' } };
        d.content = t;
        rt.contentUpdate(Sortify(d));
    };
    pad.settled = () => rt.getUserDoc() === rt.getAuthDoc() && !rt.getLag().pending;
    pad.settle = async (ms = 15000) => {
        const end = Date.now() + ms;
        while (!pad.settled()) { if (Date.now() > end) throw new Error('JS pad did not settle'); await sleep(50); }
    };
    pad.stop = () => { try { pad.cpnf.stop(); } catch (e) { /* */ } try { network.disconnect(); } catch (e) { /* */ } };
    return pad;
}
const jsLink = (keys) => `${server}/code/#/2/code/edit/${keys.editKeyStr}/`;
const keysOfLink = (link) => {
    const k = Crypto.createEditCryptor2(link.replace(/^.*\/edit\//, '').replace(/\/.*$/, ''));
    k.channel = Buffer.from(k.chanId.replace(/-/g, '/'), 'base64').toString('hex');
    return k;
};

test('a pad written by the JS stack (incl. a checkpoint) is read exactly by blindpad cat', { skip }, async () => {
    const keys = newPadKeys();
    const js = await openCodePad(keys);
    try {
        const special = 'quotes " backslash \\ tab \t ctl \u0001 sep \u2028 é 日本 😀 </script>\n';
        let text = '# Title\n';
        js.setText(text);
        await js.settle();
        for (let i = 0; i < 55; i++) {
            text += (i === 20 ? special : `line ${i}\n`);
            js.setText(text);
            await js.settle();
        }
        const c = await cat(jsLink(keys));
        assert.equal(c.text, js.text());
        assert.equal(c.text, text);
        assert.equal(c.head, js.head(), 'same ChainPad head');
        assert.equal(c.app, 'code');
        // the plain output is the text, byte for byte
        const r = await run(['cat', jsLink(keys)]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, text);
    } finally { js.stop(); }
});

test('a rich text pad written by the JS stack is printed as plain text by blindpad cat', { skip }, async () => {
    const keys = newPadKeys();
    // the rich text app keeps CKEditor's DOM as hyperjson, merged with NaiveJSONTransformer
    const js = await openCodePad(keys, ChainPad.NaiveJSONTransformer);
    try {
        const doc = ['BODY', { class: 'cke_editable', contenteditable: 'true', spellcheck: 'false' }, [
            ['H1', {}, ['Minutes']],
            ['P', {}, ['Hello ', ['STRONG', {}, ['world']], ',\u00a0caf\u00e9']],
            ['UL', {}, [['LI', {}, ['first']], ['LI', {}, [['P', {}, ['second']]]]]],
            ['OL', {}, [['LI', {}, ['one']], ['LI', {}, ['two']]]],
            ['P', {}, ['line', ['BR', {}, []], 'break']],
            ['TABLE', {}, [['TBODY', {}, [['TR', {}, [['TD', {}, ['a']], ['TD', {}, ['b']]]]]]]],
        ], { metadata: { defaultTitle: 'Rich text', title: 'Minutes', type: 'pad' } }];
        js.realtime.contentUpdate(Sortify(doc));
        await js.settle();
        const link = `${server}/pad/#/2/pad/edit/${keys.editKeyStr}/`;
        const r = await run(['cat', link]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, 'Minutes\nHello world, caf\u00e9\n- first\n- second\n1. one\n2. two\nline\nbreak\na\tb\n');
        const j = await cat(link);
        assert.equal(j.text_document, true);
        assert.equal(j.app, 'pad');
        // --raw: the hyperjson as stored
        const raw = await run(['cat', '--raw', link]);
        assert.equal(raw.code, 0, raw.stderr);
        assert.deepEqual(JSON.parse(raw.stdout), doc);
    } finally { js.stop(); }
});

test('burn after reading: new --burn makes CryptPad\'s ownerKey link; cat --burn reads it once, then it is gone', { skip }, async () => {
    const nacl = require('tweetnacl');
    const r = await run(['--json', 'new', 'markdown', '# one-time\nthe code is 1234\n', '--burn']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    // <view link><86-char ownerKey>/, as share.js's makeBurnAfterReadingUrl builds it
    assert.ok(j.burnLink.startsWith(j.view), j.burnLink);
    const ownerKey = j.burnLink.slice(j.view.length).replace(/\/$/, '');
    assert.match(ownerKey, /^[A-Za-z0-9+-]{86}$/);
    // Hash.getSignPublicFromPrivate: its public key is an owner of the document
    const sk = Buffer.from(ownerKey.replace(/-/g, '/') + '==', 'base64');
    const pub = Buffer.from(nacl.sign.keyPair.fromSecretKey(new Uint8Array(sk)).publicKey).toString('base64');
    const own = await run(['--json', 'owners', j.burnLink]);
    assert.equal(own.code, 0, own.stderr);
    assert.deepEqual(JSON.parse(own.stdout).owners, [pub]);
    // not read by accident: refused without --burn, and nothing is deleted
    let c = await run(['cat', j.burnLink]);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /burn-after-reading link/);
    c = await run(['cat', '--burn', j.burnLink]);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(c.stdout, '# one-time\nthe code is 1234\n');
    assert.match(c.stderr, /now deleted/);
    // gone for everyone, the edit link included
    c = await run(['cat', '--burn', j.burnLink]);
    assert.equal(c.code, 2, c.stderr);
    c = await run(['cat', j.link]);
    assert.equal(c.code, 2, c.stderr);
});

test('a pad created and appended by blindpad is seen by a JS client: same content and head', { skip }, async () => {
    const r = await run(['new', 'markdown', '# From C\n', '--title', 'interop']);
    assert.equal(r.code, 0, r.stderr);
    const link = r.stdout.trim();
    assert.match(link, /\/code\/#\/2\/code\/edit\//);
    const js = await openCodePad(keysOfLink(link));
    try {
        const d = js.doc();
        assert.equal(d.content, '# From C\n');
        assert.equal(d.highlightMode, 'gfm');
        assert.equal(d.metadata.type, 'code');
        assert.equal(d.metadata.title, 'interop');
        assert.equal(js.realtime.getAuthDoc(), Sortify(d), 'stored as json.sortify');
        const a = await run(['append', link, 'é 😀 "x"'], undefined);
        assert.equal(a.code, 0, a.stderr);
        const end = Date.now() + 10000;
        while (js.text() !== '# From C\né 😀 "x"\n' && Date.now() < end) { await sleep(50); }
        assert.equal(js.text(), '# From C\né 😀 "x"\n');
        const c = await cat(link);
        assert.equal(c.head, js.head());
        assert.equal(c.text, js.text());
        // and JS writes on top of it: C reads that too
        js.setText(js.text() + 'from js\n');
        await js.settle();
        const c2 = await cat(link);
        assert.equal(c2.text, '# From C\né 😀 "x"\nfrom js\n');
        assert.equal(c2.head, js.head());
    } finally { js.stop(); }
});

test('JS and blindpad write concurrently: both converge on the same content and head', { skip }, async () => {
    const r = await run(['new', 'code', 'start\n']);
    assert.equal(r.code, 0, r.stderr);
    const link = r.stdout.trim();
    const js = await openCodePad(keysOfLink(link));
    try {
        const jsLines = [], cLines = [];
        const jsWriter = (async () => {
            for (let i = 0; i < 12; i++) {
                const l = `JS line ${i}`;
                jsLines.push(l);
                js.setText(`${l}\n${js.doc().content}`); // at the top
                await sleep(30 + Math.floor(Math.random() * 60));
            }
        })();
        const cWriter = (async () => {
            for (let i = 0; i < 6; i++) {
                const l = `C line ${i}`;
                cLines.push(l);
                const a = await run(['append', link, l]);
                assert.equal(a.code, 0, a.stderr);
            }
        })();
        await Promise.all([jsWriter, cWriter]);
        await js.settle();
        await sleep(500);
        await js.settle();
        const c = await cat(link);
        assert.equal(c.text, js.text(), 'same text');
        assert.equal(c.head, js.head(), 'same head');
        const lines = c.text.split('\n');
        for (const l of [...jsLines, ...cLines, 'start']) {
            assert.equal(lines.filter((x) => x === l).length, 1, `${l} once in:\n${c.text}`);
        }
    } finally { js.stop(); }
});

test('read-only and wrong links: view link reads, cannot write; wrong password is not found', { skip }, async () => {
    const env = { BLINDPAD_PASSWORD: 'pw' };
    const mk = await new Promise((resolve) => {
        const p = spawn(CLI, ['--server', server, '--json', 'new', 'code', 'secret\n', '--password'], {
            env: { PATH: process.env.PATH, HOME: tmp, XDG_CONFIG_HOME: path.join(tmp, 'cfg'), ...env },
        });
        let out = '';
        p.stdout.on('data', (d) => { out += d; });
        p.on('close', (code) => resolve({ code, out }));
    });
    assert.equal(mk.code, 0);
    const j = JSON.parse(mk.out);
    assert.match(j.link, /\/p\/$/);
    const withPw = (args, pw) => new Promise((resolve) => {
        const p = spawn(CLI, ['--server', server, ...args], {
            env: { PATH: process.env.PATH, HOME: tmp, XDG_CONFIG_HOME: path.join(tmp, 'cfg'), BLINDPAD_PASSWORD: pw },
        });
        let stdout = '', stderr = '';
        p.stdout.on('data', (d) => { stdout += d; });
        p.stderr.on('data', (d) => { stderr += d; });
        p.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal((await withPw(['cat', j.link], 'pw')).stdout, 'secret\n');
    assert.equal((await withPw(['cat', j.view], 'pw')).stdout, 'secret\n');
    const ro = await withPw(['append', j.view, 'x'], 'pw');
    assert.equal(ro.code, 3, ro.stderr);
    const bad = await withPw(['cat', j.link], 'nope');
    assert.equal(bad.code, 2, bad.stderr);
});
