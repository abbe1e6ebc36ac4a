// Node's http2 client asking one server for two large bodies at once, with
// stream weights HEAVY and LIGHT (siblings under the root): prints, as
// JSON, how many octets the light stream had when the heavy one ended.
// usage: node priority.js URL_HEAVY URL_LIGHT HEAVY LIGHT
'use strict';
const http2 = require('node:http2');

const [heavyUrl, lightUrl, heavyWeight, lightWeight] = process.argv.slice(2);
const origin = new URL(heavyUrl).origin;
const session = http2.connect(origin);
session.on('error', (e) => { console.error(e); process.exit(1); });

const got = { heavy: 0, light: 0 };
const done = {};
const fetch = (name, url, weight) => {
  const req = session.request({ ':path': new URL(url).pathname }, { weight: Number(weight) });
  req.on('data', (c) => { got[name] += c.length; });
  req.on('end', () => {
    done[name] = { ...got };
    if (done.heavy && done.light) {
      console.log(JSON.stringify({ atHeavyEnd: done.heavy, atLightEnd: done.light }));
      session.close();
    }
  });
};
fetch('heavy', heavyUrl, heavyWeight);
fetch('light', lightUrl, lightWeight);
