// Node's http2 client exercising session and informational features
// against an h2wasm server: PING, SETTINGS acknowledgement, 103 Early Hints (/early), Expect: 100-continue (/expect echoes
// the body after 100; /refuse answers 417 unread, with no 100) and sensitive (never-indexed) request fields (/sensitive
// answers with the names it saw in x-sensitive-received). Prints a JSON
// report.
// usage: node session.js URL
'use strict';
const http2 = require('node:http2');

const session = http2.connect(process.argv[2]);
session.on('error', (e) => { console.error(e); process.exit(1); });
const report = {};

const ping = () => new Promise((ok) => {
  session.ping(Buffer.from('h2wasm!!'), (err, duration, payload) => {
    report.ping = err ? err.message : payload.toString();
    ok();
  });
});

const settings = () => new Promise((ok) => {
  session.settings({ initialWindowSize: 100000 }, (err, s) => {
    report.settingsAcked = !err && s.initialWindowSize === 100000;
    ok();
  });
});

const connected = new Promise((ok) => session.once('remoteSettings', ok));

const early = () => new Promise((ok, ko) => {
  const req = session.request({ ':path': '/early' });
  report.early = [];
  req.on('headers', (h) => report.early.push(`${h[':status']} ${h.link}`));
  req.on('response', (h) => { report.earlyFinal = h[':status']; });
  req.setEncoding('utf8');
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => { report.earlyBody = body; ok(); });
  req.on('error', ko);
});

const expect = () => new Promise((ok, ko) => {
  const req = session.request({ ':method': 'POST', ':path': '/expect', expect: '100-continue' });
  report.continued = false;
  req.on('continue', () => { report.continued = true; req.end('sent after 100'); });
  req.setEncoding('utf8');
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => { report.expectBody = body; ok(); });
  req.on('error', ko);
});

// A service that answers without reading the body (/refuse: 417) sends
// no 100: the client never sends what it held back (Node's checkContinue).
const refused = () => new Promise((ok, ko) => {
  const req = session.request({ ':method': 'POST', ':path': '/refuse', expect: '100-continue' });
  report.refusedContinued = false;
  req.on('continue', () => { report.refusedContinued = true; req.end('must not be sent'); });
  req.on('response', (h) => { report.refusedStatus = h[':status']; });
  req.resume();
  req.on('end', () => { req.close(); ok(); });
  req.on('error', ko);
});

const sensitive = () => new Promise((ok, ko) => {
  const req = session.request({
    ':path': '/sensitive',
    authorization: 'Bearer secret',
    'x-secret': 'short',
    'x-plain': 'visible',
    [http2.sensitiveHeaders]: ['x-secret'],
  });
  req.on('response', (h) => { report.sensitiveReceived = h['x-sensitive-received']; });
  req.resume();
  req.on('end', ok);
  req.on('error', ko);
});

(async () => {
  await connected;
  await ping();
  await settings();
  await early();
  await expect();
  await refused();
  await sensitive();
  console.log(JSON.stringify(report));
  session.close();
})().catch((e) => { console.error(e); process.exit(1); });
