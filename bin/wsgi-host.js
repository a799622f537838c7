#!/usr/bin/env node
'use strict';
// The compiled CLI; `npm run build` (or `npm test`) creates dist/.
require('../dist/src/cli/main.js')
  .main(process.argv.slice(2))
  .then(
    (status) => process.exit(status),
    (err) => {
      process.stderr.write(`wsgi-host: ${(err && err.stack) || err}\n`);
      process.exit(1);
    },
  );
