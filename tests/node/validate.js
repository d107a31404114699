// Validate JSON documents against a JSON Schema with ajv (draft-07, ajv's default dialect).
// stdin:  {"schema": {...}, "documents": {"<name>": <instance>, ...}}
// stdout: {"<name>": {"valid": true|false, "errors": [{"instancePath": ..., "keyword": ...}]}, ...}
// Exit 0 when every verdict was reached, 2 when the schema itself does not compile.
// CommonJS on purpose: `ajv` then resolves through NODE_PATH, which points at the cached
// node_modules (ES modules ignore NODE_PATH).
"use strict";
const fs = require("fs");
const Ajv = require("ajv");

const { schema, documents } = JSON.parse(fs.readFileSync(0, "utf8"));
// strict: true makes every schema oddity ajv knows (unknown keywords or formats, ignored
// keywords, ambiguous types) a compile error rather than a silent pass.
const ajv = new Ajv({ strict: true, allErrors: true });
let validate;
try {
  validate = ajv.compile(schema);
} catch (error) {
  process.stderr.write(`schema does not compile: ${error.message}\n`);
  process.exit(2);
}
const verdicts = {};
for (const name of Object.keys(documents).sort()) {
  const valid = validate(documents[name]);
  verdicts[name] = { valid, errors: (validate.errors || []).map((e) => ({ instancePath: e.instancePath, keyword: e.keyword })) };
}
process.stdout.write(JSON.stringify(verdicts, null, 1) + "\n");
