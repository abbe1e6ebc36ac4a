// Node's own http2 client against an h2wasm server.
// usage: node client.js URL CA_FILE|- ; prints a JSON report on stdout.
'use strict';
const http2 = require('node:http2');
const crypto = require('node:crypto');
const fs = require('node:fs');

const [url, ca] = process.argv.slice(2);
const opts = ca && ca !== '-' ? { ca: fs.readFileSync(ca) } : {};
const session = http2.connect(url, opts);
session.on('error', (e) => { console.error('session error', e); process.exit(1); });

function request(headers, body) {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined });
    const chunks = [];
    const out = { status: 0, headers: {}, trailers: {} };
    req.on('response', (h) => { out.status = h[':status']; out.headers = h; });
    req.on('trailers', (t) => { out.trailers = t; });
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const buf = Buffer.concat(chunks);
      out.length = buf.length;
      out.sha256 = crypto.createHash('sha256').update(buf).digest('hex');
      out.text = buf.length < 2000 ? buf.toString() : '';
      resolve(out);
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

(async () => {
  const big = crypto.randomBytes(1 << 20);
  const [index, missing, echo, ...many] = await Promise.all([
    request({ ':path': '/' }),
    request({ ':path': '/missing' }),
    request({ ':method': 'POST', ':path': '/echo' }, big),
    ...Array.from({ length: 20 }, () => request({ ':path': '/' })),
  ]);
  const report = {
    index: { status: index.status, hasTitle: index.text.includes('h2wasm') },
    missing: missing.status,
    echo: {
      status: echo.status,
      same: echo.sha256 === crypto.createHash('sha256').update(big).digest('hex'),
      trailer: echo.trailers['x-echo-bytes'],
    },
    concurrent: many.filter((r) => r.status === 200).length,
  };
  console.log(JSON.stringify(report));
  session.close();
})().catch((e) => { console.error(e); process.exit(1); });
