'use strict';
// CryptPad's real client stack in Node: netflux-websocket + chainpad-netflux + chainpad-crypto + chainpad.
const Netflux = require('netflux-websocket');
const CPNF = require('chainpad-netflux');
const ChainPad = require('chainpad');
const Crypto = require('chainpad-crypto');
const WebSocket = require('ws');
const { sleep } = require('./client');

// the clients log a lot through console.*; keep the test output readable
const QUIET = process.env.CONFORMANCE_CLIENT_LOGS !== '1';
function quietly(fn) {
    if (!QUIET) { return fn(); }
    const saved = { log: console.log, debug: console.debug, warn: console.warn, error: console.error };
    console.log = console.debug = console.warn = console.error = () => {};
    try { return fn(); } finally { Object.assign(console, saved); }
}
if (QUIET) {
    // netflux-websocket / chainpad-netflux log from callbacks too (e.g. "message to non-existent chan")
    const orig = { log: console.log, debug: console.debug, error: console.error, warn: console.warn };
    const filter = (f) => (...args) => {
        const s = args.map((a) => (typeof a === 'string' ? a : (a && a.stack) || '')).join(' ');
        if (/non-existent chan|leaving non-existent|no such channel|Posting to server failed|^error: \[|chainpad|UNEXPECTED|\[object Object\]/i.test(s) || args.some((a) => a && typeof a === 'object' && 'type' in a)) { return; }
        f(...args);
    };
    console.log = filter(orig.log);
    console.debug = filter(orig.debug);
    console.error = filter(orig.error);
    console.warn = filter(orig.warn);
}

const makeWs = (url) => new WebSocket(url, { perMessageDeflate: false });

// a new pad secret (CryptPad "v2" edit hash) and its 32-hex channel id
function newPadKeys() {
    const keys = Crypto.createEditCryptor2();
    keys.channel = Buffer.from(keys.chanId.replace(/-/g, '/'), 'base64').toString('hex');
    return keys;
}
function viewKeysOf(keys) {
    const v = Crypto.createViewCryptor2(keys.viewKeyStr);
    v.channel = Buffer.from(v.chanId.replace(/-/g, '/'), 'base64').toString('hex');
    return v;
}

async function connectNetwork(url) {
    return Netflux.connect(url, makeWs);
}

/**
 * Open a pad with chainpad-netflux. keys: edit keys (signKey/validateKey) or view keys (cryptKey only).
 * opts.crypto overrides the encryptor; opts.readOnly forces read-only.
 * Resolves when onReady fired. Returns {network, realtime, cpnf, metadata, messages, hk, stop()}.
 */
async function openPad(url, keys, opts = {}) {
    const network = opts.network || await connectNetwork(url);
    const isEditor = !!keys.signKey;
    const crypto = opts.crypto || (isEditor
        ? Crypto.createEncryptor({ cryptKey: keys.cryptKey, signKey: keys.signKey, validateKey: keys.validateKey })
        : Crypto.createEncryptor({ cryptKey: keys.cryptKey }));
    const pad = { network, keys, messages: [], errors: [], remotePatches: 0, localCalls: 0 };
    const ready = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('pad onReady timeout')), opts.readyTimeout || 20000);
        const config = {
            network,
            channel: keys.channel,
            crypto,
            ChainPad,
            readOnly: opts.readOnly !== undefined ? opts.readOnly : !isEditor,
            logLevel: 0,
            avgSyncMilliseconds: opts.avgSyncMilliseconds || 150,
            userName: opts.userName || 'conformance',
            onReady(info) {
                clearTimeout(timer);
                pad.realtime = info.realtime;
                pad.metadata = info.metadata;
                pad.myId = info.myId;
                resolve(pad);
            },
            onMessage(msg, peer, validateKey, isCp, hash) {
                pad.messages.push({ msg, peer, isCp, hash });
            },
            onLocal() { pad.localCalls++; },
            onRemote() { pad.remotePatches++; },
            onChannelError(err) { pad.errors.push(err); reject(new Error(`channel error ${JSON.stringify(err)}`)); },
            onError(err) { pad.errors.push(err); reject(new Error(`pad error ${JSON.stringify(err)}`)); },
            onConnectionChange() {},
        };
        if (isEditor && !opts.noValidateKey) { config.validateKey = keys.validateKey; }
        if (opts.owners) { config.owners = opts.owners; }
        pad.cpnf = quietly(() => CPNF.start(config));
    });
    try {
        await ready;
    } catch (e) {
        try { pad.cpnf.stop(); } catch (e2) { /* ignore */ }
        if (!opts.network) { try { network.disconnect(); } catch (e2) { /* ignore */ } }
        throw e;
    }
    pad.hk = network.historyKeeper;
    pad.doc = () => pad.realtime.getUserDoc();
    pad.authDoc = () => pad.realtime.getAuthDoc();
    pad.settled = () => pad.realtime.getUserDoc() === pad.realtime.getAuthDoc() && !pad.realtime.getLag().pending;
    // insert text at the start of a random line (so concurrent inserts never split each other)
    pad.insertLine = (text) => {
        const doc = pad.realtime.getUserDoc();
        const starts = [0];
        for (let i = 0; i < doc.length; i++) { if (doc[i] === '\n') { starts.push(i + 1); } }
        const off = starts[Math.floor(Math.random() * starts.length)];
        pad.realtime.change(off, 0, text + '\n');
    };
    pad.stop = () => {
        try { pad.cpnf.stop(); } catch (e) { /* ignore */ }
        try { if (pad.realtime) { pad.realtime.abort(); } } catch (e) { /* ignore */ }
        if (!opts.network) { try { network.disconnect(); } catch (e) { /* ignore */ } }
    };
    return pad;
}

// wait until every pad is settled and all show the same document (and pred(doc) holds)
async function converge(pads, { timeout = 30000, pred = () => true } = {}) {
    const deadline = Date.now() + timeout;
    let last = '';
    for (;;) {
        const docs = pads.map((p) => p.doc());
        const same = docs.every((d) => d === docs[0]);
        if (same && pads.every((p) => p.settled()) && pred(docs[0])) {
            // stable for a moment?
            await sleep(300);
            const docs2 = pads.map((p) => p.doc());
            if (docs2.every((d) => d === docs[0]) && pads.every((p) => p.settled())) { return docs[0]; }
        }
        last = `${new Set(docs).size} distinct docs; settled ${pads.filter((p) => p.settled()).length}/${pads.length}; pred ${docs.map((d) => pred(d)).filter(Boolean).length}/${pads.length}`;
        if (Date.now() > deadline) { throw new Error(`no convergence within ${timeout} ms: ${last}`); }
        await sleep(100);
    }
}

module.exports = { Netflux, CPNF, ChainPad, Crypto, newPadKeys, viewKeysOf, connectNetwork, openPad, converge, makeWs };
