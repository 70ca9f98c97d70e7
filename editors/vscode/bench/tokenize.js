// Benchmark (not a test): how long VS Code's engine (vscode-textmate +
// Oniguruma) takes to tokenize a generated 10,000-line flow with
// grammar/flow.tmLanguage.json, the same lines as bench/check.sh. VS Code
// tokenizes a file once on opening, then only the edited lines, so the
// figure per line is what typing costs. Run: npm run bench
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const grammarPath = path.resolve(__dirname, '..', '..', '..', 'grammar', 'flow.tmLanguage.json');
const count = Number(process.env.LINES_TO_GENERATE || 10000);

function generate() {
  const lines = ['flow generated "Generated" {', '  send_at: 08:00'];
  for (let i = 0; i < count - 3; i++) {
    switch (i % 5) {
      case 0: lines.push(`  r${i}: when birthday - ${(i % 300) + 1}d if country == "FR" and language != "de" send t${i}`); break;
      case 1: lines.push(`  r${i}: on anniversary of joined as n if n % 5 == 0 or n == ${(i % 40) + 1} send t${i}`); break;
      case 2: lines.push(`  r${i}: when 3d after t${i - 2} if not purchase where amount > ${i} since t${i - 2} send t${i} with coupon valid 30d`); break;
      case 3: lines.push(`  r${i}: on purchase where product == "p${i}" and amount >= 10 send sms t${i}`); break;
      default: lines.push(`  r${i}: on no visit for 60d if tags is set and "vip" in tags task call for email note "n${i}" then send t${i}`);
    }
  }
  lines.push('}');
  return lines;
}

async function main() {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () => vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath),
  });
  const grammar = await registry.loadGrammar('source.flow');
  const lines = generate();
  const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
  console.log(`generated ${lines.length} lines (${bytes} bytes)`);
  const times = [];
  let tokens = 0;
  for (let run = 0; run < 7; run++) {
    const start = process.cpuUsage();
    let stack = vsctm.INITIAL;
    tokens = 0;
    for (const line of lines) {
      const result = grammar.tokenizeLine(line, stack);
      stack = result.ruleStack;
      tokens += result.tokens.length;
    }
    const used = process.cpuUsage(start);
    times.push((used.user + used.system) / 1000);
  }
  times.sort((a, b) => a - b);
  const median = times[3];
  console.log(`${tokens} tokens`);
  // CPU time of this process, not wall time: other work on the machine
  // changes it less.
  console.log(`tokenize ${lines.length} lines: median ${median.toFixed(1)} ms of CPU ` +
    `(min ${times[0].toFixed(1)} ms, max ${times[6].toFixed(1)} ms over 7 runs; the first includes regex compilation), ` +
    `${((median * 1000) / lines.length).toFixed(1)} µs per line`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
