'use strict';
// History keeper helpers shared by several test files.
const { content, hashOf, chan32 } = require('./client');
const { IS_REFERENCE } = require('./server');

// Send all contents to chan, wait for every reply; returns the replies.
// Pipelined against blindpad. Against the reference one at a time: under load the reference
// can store (and relay) pipelined messages of one client out of arrival order (observed;
// see README), which would make the order checks of unrelated tests flaky there.
async function populate(c, chan, contents, timeout = 10000, { sequential = IS_REFERENCE } = {}) {
    if (sequential) {
        const out = [];
        for (const x of contents) { out.push(await c.reply(c.request('MSG', chan, x), timeout)); }
        return out;
    }
    const seqs = contents.map((x) => c.request('MSG', chan, x));
    const out = [];
    for (const s of seqs) { out.push(await c.reply(s, timeout)); }
    return out;
}

// The §3.4 example: m1..m5, cp1, m6..m125, cp2, m126..m128, cp3, m129, m130, cp4, m131 (135 lines)
function checkpointScenario() {
    const seq = [];
    const named = {};
    const add = (name, isCp) => {
        const text = isCp ? `cp|${Buffer.from(name.padEnd(8, '_')).toString('base64')}|${name}-${content('c').slice(2)}`
            : `${name}-${content('m').slice(2)}`;
        named[name] = text;
        seq.push(name);
    };
    for (let i = 1; i <= 5; i++) { add(`m${i}`); }
    add('cp1', true);
    for (let i = 6; i <= 125; i++) { add(`m${i}`); }
    add('cp2', true);
    for (let i = 126; i <= 128; i++) { add(`m${i}`); }
    add('cp3', true);
    add('m129'); add('m130');
    add('cp4', true);
    add('m131');
    return { names: seq, text: named, contents: seq.map((n) => named[n]) };
}

// names of a slice of the scenario, from name a to name b inclusive
function range(names, a, b) {
    const i = names.indexOf(a); const j = names.indexOf(b);
    if (i === -1 || j === -1) { throw new Error(`bad range ${a}..${b}`); }
    return names.slice(i, j + 1);
}

// GET_HISTORY_RANGE: returns {reply, items:[storedMsg], end, error, frames, timedOut}
async function getRange(c, chan, arg, { timeout = 5000 } = {}) {
    const s = c.sendHk(['GET_HISTORY_RANGE', chan, arg]);
    const res = { reply: await c.reply(s, timeout), items: [], end: null, error: null, frames: [], timedOut: false };
    if (res.reply[1] !== 'ACK') { return res; }
    const txid = arg && arg.txid;
    for (;;) {
        let got;
        try {
            got = await c.waitHk((b) => Array.isArray(b) && String(b[0]).startsWith('HISTORY_RANGE') && b[1] === txid, timeout, `range ${txid}`);
        } catch (e) { res.timedOut = true; break; }
        res.frames.push(got.frame);
        const b = got.body;
        if (b[0] === 'HISTORY_RANGE') { res.items.push(b[2]); continue; }
        if (b[0] === 'HISTORY_RANGE_END') { res.end = b; break; }
        res.error = b; break;
    }
    return res;
}

// GET_FULL_HISTORY: returns {reply, items, end, error, frames, timedOut}
async function getFull(c, chan, { timeout = 5000 } = {}) {
    const s = c.sendHk(['GET_FULL_HISTORY', chan]);
    const res = { reply: await c.reply(s, timeout), items: [], end: null, error: null, frames: [], timedOut: false };
    if (res.reply[1] !== 'ACK') { return res; }
    for (;;) {
        let got;
        try {
            got = await c.waitHk((b) => Array.isArray(b) && ['FULL_HISTORY', 'FULL_HISTORY_END', 'ERROR'].includes(b[0]) &&
                (b[0] !== 'ERROR' || b[1] === chan) && (b[0] !== 'FULL_HISTORY_END' || b[1] === chan) &&
                (b[0] !== 'FULL_HISTORY' || (Array.isArray(b[1]) ? b[1][3] === chan : true)), timeout, 'full history');
        } catch (e) { res.timedOut = true; break; }
        res.frames.push(got.frame);
        const b = got.body;
        if (b[0] === 'FULL_HISTORY') { res.items.push(b[1]); continue; }
        if (b[0] === 'FULL_HISTORY_END') { res.end = b; break; }
        res.error = b; break;
    }
    return res;
}

module.exports = { populate, checkpointScenario, range, getRange, getFull, hashOf, chan32 };
