// One Node http2 session making COUNT requests one after another, pausing
// PAUSE_MS between them (long enough for the server to hibernate the idle
// connection), each with the same custom header so that Node's HPACK
// encoder refers to its dynamic table. Prints, as JSON, each response's
// status and echoed header and body.
// usage: node sequential.js URL COUNT PAUSE_MS
'use strict';
const http2 = require('node:http2');

const [url, count, pause] = process.argv.slice(2);
const session = http2.connect(new URL(url).origin);
session.on('error', (e) => { console.error(e); process.exit(1); });
const results = [];
const one = (i) => new Promise((resolve, reject) => {
  const req = session.request({ ':path': new URL(url).pathname, 'x-tenant': 'blue', 'x-seq': String(i) });
  let body = '';
  let echoed;
  let status;
  req.on('response', (h) => { status = h[':status']; echoed = h['x-echo-tenant']; });
  req.setEncoding('utf8');
  req.on('data', (c) => { body += c; });
  req.on('end', () => resolve({ status, echoed, body }));
  req.on('error', reject);
});
(async () => {
  for (let i = 0; i < Number(count); i++) {
    results.push(await one(i));
    await new Promise((r) => setTimeout(r, Number(pause)));
  }
  console.log(JSON.stringify(results));
  session.close();
})().catch((e) => { console.error(e); process.exit(1); });
