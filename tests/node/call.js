// Calls one function of an Rserve Desk app the way a web page does, with the
// real rserve-js client (npm `rserve`), and prints one JSON line:
//   {"ok": true, "value": ...}            the function's result
//   {"ok": false, "stage": S, "error": E} S: connect | authenticate | call | login | closed
//
//   node call.js URL FUNCTION ARGS_JSON [TOKEN]
//
// OCAP apps: the first capability is called with the token (or with nothing),
// it answers with the named list of function capabilities, and FUNCTION is
// called with ARGS_JSON's elements (numbers become a Float64Array, i.e. an R
// numeric vector; anything else is sent as rserve-js sends it).
// Eval apps: logs in with user "rdesk" and the token as password, then
// evaluates FUNCTION(ARGS...) with numeric arguments.
'use strict';

const Rserve = require('rserve');

const [url, fn, argsJson, token] = process.argv.slice(2);
const args = JSON.parse(argsJson || '[]').map((a) =>
  typeof a === 'number' ? new Float64Array([a]) : a);

let done = false;
function finish(result) {
  if (done) return;
  done = true;
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}
function fail(stage, error) {
  finish({ ok: false, stage, error: String(error && error.message ? error.message : error) });
}
function plain(value) {
  if (value instanceof Float64Array || value instanceof Int32Array) {
    return Array.from(value);
  }
  return value;
}

let stage = 'connect';
setTimeout(() => fail(stage, 'timed out'), 15000);
// rserve-js sets no 'error' handler on its socket: a refused upgrade (e.g.
// Traefik's 403 for a caller outside the allow-list) is thrown from ws.
process.on('uncaughtException', (e) => fail(stage, e));

const s = Rserve.create({
  host: url,
  login: token ? 'rdesk\n' + token : undefined,
  on_connect() {
    if (!s.ocap_mode) {
      stage = 'call';
      const code = fn + '(' + args.map((a) => String(a[0])).join(', ') + ')';
      s.eval(code, (v) => finish({ ok: true, value: plain(v.value.json()) }));
      return;
    }
    stage = 'authenticate';
    const received = (funcs) => {
      if (typeof funcs[fn] !== 'function') {
        fail('authenticate', 'no function ' + fn + ' among ' + Object.keys(funcs).join(', '));
        return;
      }
      stage = 'call';
      funcs[fn](...args, (value) => finish({ ok: true, value: plain(value) }));
    };
    if (token) s.ocap(token, received); else s.ocap(received);
  },
  on_error(error) { fail(stage, error); },
  on_close() { fail(stage === 'connect' ? 'connect' : 'closed', 'the connection closed'); },
});
