// SPDX-License-Identifier: MIT
// MeshHook's JMESPath engine against the reference JavaScript implementation (npm `jmespath`),
// in the same run, on the cases of jmespath.py's benchmarks.json. For each case both sides
// measure three rates (operations per second, the best of 5 timed batches):
//   compile  expression text to AST        (C: mh_jp_compile;  JS: jmespath.compile)
//   eval     a pre-compiled AST on the doc (C: mh_jp_eval;     JS: the package's own
//            TreeInterpreter on the AST from jmespath.compile; search() would re-parse)
//   full     compile + evaluate            (C: both;           JS: jmespath.search)
// and prints a Markdown table with the C/JS ratio of each. The headline ratio of a case is the
// one its "bench" field names: "parse" cases compare compile, "full" cases compare full. The
// run fails (exit 1) if any result is wrong on either side, or if MeshHook is under the goal
// ratio on any case.
//
//   node bench/jmespath/bench.js --c PATH_TO_bench_jp --cases BENCHMARKS_JSON [--ms N] [--goal 3]
//        [--rounds 3]
'use strict';

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

const cBin = arg('--c');
const casesPath = arg('--cases');
const ms = Number(arg('--ms', '500'));
const goal = Number(arg('--goal', '3'));
const rounds = Number(arg('--rounds', '3'));
if (!cBin || !casesPath) {
  console.error('usage: node bench.js --c BENCH_JP --cases BENCHMARKS_JSON [--ms N] [--goal R] ' +
                '[--rounds N]');
  process.exit(2);
}

// The reference implementation, loaded from its package with two extra exports so that a
// pre-parsed AST can be evaluated by its own interpreter (the public API only has search(),
// which parses every time). The package source is not modified on disk.
function loadReference() {
  const file = require.resolve('jmespath', { paths: [__dirname] });
  const src = fs.readFileSync(file, 'utf8');
  const hook = 'exports.tokenize = tokenize;';
  if (!src.includes(hook)) throw new Error('unexpected jmespath.js layout');
  const patched = src.replace(hook,
    hook + ' exports.TreeInterpreter = TreeInterpreter; exports.Runtime = Runtime;');
  const mod = {};
  new Function('exports', patched)(mod); // eslint-disable-line no-new-func
  const version = JSON.parse(fs.readFileSync(path.join(path.dirname(file), 'package.json'))).version;
  return { jp: mod, version };
}

function nowS() {
  return Number(process.hrtime.bigint()) / 1e9;
}

let sink = 0;

function measure(fn) {
  let iters = 1;
  let dt;
  for (;;) {
    const t0 = nowS();
    for (let i = 0; i < iters; i++) sink ^= fn() === undefined ? 1 : 0;
    dt = nowS() - t0;
    if (dt > 0.005) break;
    iters *= 4;
  }
  const batch = Math.max(1, Math.floor(iters * (ms / 5 / 1000) / dt));
  const rates = [];
  for (let b = 0; b < 5; b++) {
    const t0 = nowS();
    for (let i = 0; i < batch; i++) sink ^= fn() === undefined ? 1 : 0;
    rates.push(batch / (nowS() - t0));
  }
  return Math.max(...rates);
}

// Structural equality with numbers by value (JSON numbers are all doubles in JS).
function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function fmtRate(r) {
  if (r >= 1e6) return (r / 1e6).toFixed(2) + 'M';
  if (r >= 1e3) return (r / 1e3).toFixed(1) + 'k';
  return r.toFixed(0);
}

function main() {
  const { jp, version } = loadReference();
  const groups = JSON.parse(fs.readFileSync(casesPath, 'utf8'));

  // Prepare the JS side once: a warmed interpreter and AST per case.
  const cases = [];
  for (const g of groups) {
    for (const tc of g.cases) {
      const runtime = new jp.Runtime();
      const interp = new jp.TreeInterpreter(runtime);
      runtime._interpreter = interp;
      const ast = jp.compile(tc.expression);
      const result = interp.search(ast, g.given);
      const ok = !('result' in tc) || same(result, tc.result);
      for (let i = 0; i < 20000; i++) { // warm the JIT on each path before timing it
        jp.compile(tc.expression);
        interp.search(ast, g.given);
        jp.search(g.given, tc.expression);
      }
      cases.push({ tc, given: g.given, interp, ast, ok });
    }
  }

  // Rounds alternate the two sides and keep each side's best, so a machine that is busy for a
  // while (CI, other jobs) slows both sides alike instead of skewing one of them.
  const best = (a, b) => (a === undefined ? b : Math.max(a, b));
  const rows = cases.map((k) => ({ name: k.tc.comment, bench: k.tc.bench, c: {}, js: {}, ok: k.ok }));
  for (let round = 0; round < rounds; round++) {
    const c = spawnSync(cBin, [casesPath, String(ms)], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (c.status !== 0) {
      process.stderr.write(c.stderr || '');
      throw new Error(`${cBin} exited with ${c.status}`);
    }
    const cRows = c.stdout.trim().split('\n').map((l) => JSON.parse(l));
    cases.forEach((k, i) => {
      const cr = cRows[i];
      if (!cr || cr.expression !== k.tc.expression) throw new Error('C and JS case lists differ');
      const r = rows[i];
      r.ok = r.ok && cr.ok;
      for (const op of ['compile', 'eval', 'full']) r.c[op] = best(r.c[op], cr[op]);
      r.js.compile = best(r.js.compile, measure(() => jp.compile(k.tc.expression)));
      r.js.eval = best(r.js.eval, measure(() => k.interp.search(k.ast, k.given)));
      r.js.full = best(r.js.full, measure(() => jp.search(k.given, k.tc.expression)));
    });
  }

  const lines = [];
  lines.push(`JMESPath: MeshHook (C) vs jmespath.js ${version} on node ${process.version}, ` +
             `operations per second (best of ${rounds} rounds of 5 batches of ~${ms / 5} ms each).`);
  lines.push('');
  lines.push('| case | kind | **ratio** | C full | JS full | full ratio | C compile | JS compile | ' +
             'compile ratio | C eval | JS eval | eval ratio | ok |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  let minKind = Infinity;
  let bad = 0;
  for (const r of rows) {
    const rf = r.c.full / r.js.full;
    const rc = r.c.compile / r.js.compile;
    const re = r.c.eval / r.js.eval;
    // The case's own kind says what it measures: "parse" is compile only; "full" (and
    // "interpret", measured like full here) is text + document to result.
    const rk = r.bench === 'parse' ? rc : rf;
    minKind = Math.min(minKind, rk);
    if (!r.ok) bad++;
    lines.push(`| ${r.name} | ${r.bench} | **${rk.toFixed(1)}x** | ${fmtRate(r.c.full)} | ` +
               `${fmtRate(r.js.full)} | ${rf.toFixed(1)}x | ${fmtRate(r.c.compile)} | ` +
               `${fmtRate(r.js.compile)} | ${rc.toFixed(1)}x | ${fmtRate(r.c.eval)} | ` +
               `${fmtRate(r.js.eval)} | ${re.toFixed(1)}x | ${r.ok ? 'yes' : 'NO'} |`);
  }
  lines.push('');
  lines.push(`Lowest ratio for the cases' own kind: ${minKind.toFixed(1)}x ` +
             `(goal: at least ${goal}x on every case).`);
  console.log(lines.join('\n'));
  if (bad > 0) {
    console.error(`bench: ${bad} case(s) gave a wrong result`);
    process.exit(1);
  }
  if (minKind < goal) {
    console.error(`bench: MeshHook is under ${goal}x the reference on some case`);
    process.exit(1);
  }
  if (sink === 0.5) console.log(''); // keep `sink` observable
}

main();
