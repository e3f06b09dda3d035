'use strict';
const { EXTERNAL, IS_REFERENCE, SLOW } = require('./server');

// Behaviour where blindpad deliberately differs from the reference: skipped under it.
function blindpadOnly(t, why) {
    if (IS_REFERENCE) {
        t.skip(`blindpad-only (deliberate deviation from the reference): ${why}`);
        return true;
    }
    return false;
}

// Tests that must start/kill/restart their own server, or pass it special flags.
function needsLocal(t, why) {
    if (EXTERNAL) {
        t.skip(`needs a server started by the suite: ${why}`);
        return true;
    }
    return false;
}

function needsDataDir(t, srv) {
    if (!srv.dataDir) {
        t.skip('data dir of the external server unknown (set CONFORMANCE_DATA_DIR)');
        return true;
    }
    return false;
}

module.exports = { blindpadOnly, needsLocal, needsDataDir, EXTERNAL, IS_REFERENCE, SLOW };
