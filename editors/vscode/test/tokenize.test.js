// Tokenizes .flow text with the engine VS Code itself uses (vscode-textmate
// on the Oniguruma regex library compiled to WebAssembly) and checks the
// scopes that grammar/flow.tmLanguage.json gives. No VS Code needed:
//   cd editors/vscode && npm ci && npm test
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test, before } = require('node:test');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const repo = path.resolve(__dirname, '..', '..', '..');
const grammarPath = path.join(repo, 'grammar', 'flow.tmLanguage.json');
const pest = fs.readFileSync(path.join(repo, 'grammar', 'flow.pest'), 'utf8');

let grammar;

before(async () => {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) =>
      scopeName === 'source.flow'
        ? vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath)
        : null,
  });
  grammar = await registry.loadGrammar('source.flow');
  assert.ok(grammar, 'the grammar loads');
});

/** The tokens of a text: one `{ line, text, scopes }` per token, in order. */
function tokenize(text) {
  const out = [];
  let stack = vsctm.INITIAL;
  text.split(/\r?\n/).forEach((line, lineNo) => {
    const result = grammar.tokenizeLine(line, stack);
    for (const token of result.tokens) {
      out.push({
        line: lineNo + 1,
        text: line.slice(token.startIndex, token.endIndex),
        scopes: token.scopes,
      });
    }
    stack = result.ruleStack;
  });
  return out;
}

/** The innermost scope of the `nth` token whose text is `word`. */
function scopeOf(text, word, nth = 0) {
  const found = tokenize(text).filter((t) => t.text === word);
  assert.ok(found.length > nth, `no token ${JSON.stringify(word)} (#${nth}) in ${JSON.stringify(text)}: ` +
    JSON.stringify(tokenize(text).map((t) => t.text)));
  const scopes = found[nth].scopes;
  return scopes[scopes.length - 1];
}

/** The words of the `kw_*` rules between two section comments of flow.pest. */
function pestWords(from, to) {
  const section = pest.slice(pest.indexOf(from), to ? pest.indexOf(to) : undefined);
  return [...section.matchAll(/^kw_\w+\s*=\s*@\{\s*"([^"]+)"/gm)].map((m) => m[1]);
}
const reserved = pestWords('// Reserved words', '// Contextual words');
const contextual = pestWords('// Contextual words');

const keywordScope = /^(keyword\.|storage\.type\.|constant\.language\.)/;

test('the pest grammar has the sections this test reads', () => {
  assert.ok(reserved.length >= 36, reserved.join(' '));
  assert.ok(contextual.length >= 19, contextual.join(' '));
});

test('chosen tokens get the expected scopes', () => {
  const cases = [
    // [text, token, innermost scope, nth occurrence]
    ['when birthday - 15d send offer', 'when', 'keyword.control.flow'],
    ['when birthday - 15d send offer', '15d', 'constant.numeric.duration.flow'],
    ['when birthday - 15d send offer', '-', 'keyword.operator.arithmetic.flow'],
    ['when birthday - 15d send offer', 'birthday', 'variable.other.flow'],
    ['when birthday - 15d send offer', 'send', 'keyword.other.action.flow'],
    ['when birthday - 15d send offer', 'offer', 'entity.name.function.message.flow'],
    ['on no visit for 3months send miss_you', '3months', 'constant.numeric.duration.flow'],
    ['when birthday - 15 days send offer', '15 days', 'constant.numeric.duration.flow'],
    ['on no visit for 90min send ping', 'for', 'keyword.other.contextual.flow'],
    ['on no visit for 90min send ping', 'no', 'keyword.other.trigger.flow'],
    ['on no visit for 30m send ping', '30m', 'invalid.illegal.numeric.flow'],
    ['on x if 1.5d == 2027-03-01 send y', '1.5d', 'invalid.illegal.numeric.flow'],
    ['on x if 1.5d == 2027-03-01 send y', '2027-03-01', 'constant.numeric.date.flow'],
    ['on x if 1.5d == 2027-03-01x send y', '2027', 'constant.numeric.integer.flow'],
    ['on x if 1.5d == 2027-03-01x send y', '01x', 'invalid.illegal.numeric.flow'],
    ['send_at: 08:00  # local time', '08:00', 'constant.numeric.time.flow'],
    ['send_at: 08:00  # local time', 'send_at', 'variable.other.property.flow'],
    ['send_at: 08:00  # local time', ' local time', 'comment.line.number-sign.flow'],
    ['send_at: 08:00  # local time', '#', 'punctuation.definition.comment.flow'],
    ['// when send', ' when send', 'comment.line.double-slash.flow'],
    ['when 2027-03-01 send presentation', '2027-03-01', 'constant.numeric.date.flow'],
    ['on anniversary of joined as n if n % 5 == 0 and n != 10 send x', '0', 'constant.numeric.integer.flow'],
    ['on anniversary of joined as n if n % 5 == 0 and n != 10 send x', '%', 'keyword.operator.arithmetic.flow'],
    ['on anniversary of joined as n if n % 5 == 0 and n != 10 send x', '==', 'keyword.operator.comparison.flow'],
    ['on anniversary of joined as n if n % 5 == 0 and n != 10 send x', 'and', 'keyword.operator.word.flow'],
    ['on anniversary of joined as n if n % 5 == 0 and n != 10 send x', 'n', 'variable.parameter.flow'],
    ['on purchase if event.amount >= 99.5 send thanks', '99.5', 'constant.numeric.decimal.flow'],
    ['on purchase if event.amount >= 99.5 send thanks', '.', 'punctuation.accessor.flow'],
    ['title: "Say \\"hi\\"\\n to \\u{e9}"', '\\"', 'constant.character.escape.flow'],
    ['title: "Say \\"hi\\"\\n to \\u{e9}"', '\\n', 'constant.character.escape.flow'],
    ['title: "Say \\"hi\\"\\n to \\u{e9}"', '\\u{e9}', 'constant.character.escape.unicode.flow'],
    ['title: "Say \\"hi\\"\\n to \\u{e9}"', ' to ', 'string.quoted.double.flow'],
    ['title: "a \\q b"', '\\q', 'invalid.illegal.escape.flow'],
    ['title: "a \\u{110000} b"', '\\u{110000}', 'invalid.illegal.escape.flow'],
    ['title: "a \\u{d800} b"', '\\u{d800}', 'invalid.illegal.escape.flow'],
    ['title: "a \\u{10FFFF} b"', '\\u{10FFFF}', 'constant.character.escape.unicode.flow'],
    ['title: "# not a comment" # a comment', '# not a comment', 'string.quoted.double.flow'],
    ['title: "# not a comment" # a comment', ' a comment', 'comment.line.number-sign.flow'],
    ['flow loyalty "Loyalty anniversaries" {', 'flow', 'storage.type.flow'],
    ['flow loyalty "Loyalty anniversaries" {', 'loyalty', 'entity.name.type.flow'],
    ['flow loyalty "Loyalty anniversaries" {', '{', 'punctuation.section.block.begin.flow'],
    ['tenth: on anniversary of joined as n if n == 10', 'tenth', 'entity.name.label.flow'],
    ['tenth: on anniversary of joined as n if n == 10', 'on', 'keyword.control.flow'],
    ['on shipped if consent sms send sms shipped', 'consent', 'keyword.other.predicate.flow'],
    ['on shipped if consent sms send sms shipped', 'sms', 'support.constant.channel.flow', 0],
    ['on shipped if consent sms send sms shipped', 'sms', 'support.constant.channel.flow', 1],
    ['on shipped if consent sms send sms shipped', 'shipped', 'entity.name.function.message.flow', 1],
    ['on x if true or false send y', 'true', 'constant.language.boolean.flow'],
    ['on x if country in ["FR", "BE"] send y', 'in', 'keyword.operator.word.flow'],
    ['on x if country in ["FR", "BE"] send y', '[', 'punctuation.section.brackets.begin.flow'],
    ['on x if country in ["FR", "BE"] send y', ',', 'punctuation.separator.comma.flow'],
    ['on x if phone is not set send y', 'set', 'keyword.operator.word.flow'],
    ['on x send y then set tier = "gold" then exit', 'set', 'keyword.other.action.flow'],
    ['on x send y then set tier = "gold" then exit', 'tier', 'variable.other.flow'],
    ['on x send y then set tier = "gold" then exit', '=', 'keyword.operator.assignment.flow'],
    ['on x send y then set tier = "gold" then exit', 'exit', 'keyword.other.action.flow'],
    ['on x send y then set tier = "gold" then exit', 'then', 'keyword.control.flow', 1],
    ['when birthday - 15d send offer; on birthday if unused send reminder', ';', 'punctuation.terminator.statement.flow'],
    ['when birthday - 15d send offer; on birthday if unused send reminder', 'on', 'keyword.control.flow'],
    ['when birthday - 15d send offer; on birthday if unused send reminder', 'unused', 'keyword.other.predicate.flow'],
    // Names in any language, and names that merely start with a keyword.
    ['on birthday if prénom == "Chloé" send présentation', 'prénom', 'variable.other.flow'],
    ['on birthday if prénom == "Chloé" send présentation', 'présentation', 'entity.name.function.message.flow'],
    ['on cumpleaños - 15d send oferta_día', 'cumpleaños', 'variable.other.flow'],
    ['on x if onboarding and settings send whenever', 'onboarding', 'variable.other.flow'],
    ['on x if onboarding and settings send whenever', 'settings', 'variable.other.flow'],
    ['on x if été_on == 1 send y', 'été_on', 'variable.other.flow'],
    ['on x if x1 == 1 send y', 'x1', 'variable.other.flow'],
    // Contextual words are names where they are not keywords.
    ['on x if note == "vip" and due > 3 send hours', 'note', 'variable.other.flow'],
    ['on x if note == "vip" and due > 3 send hours', 'due', 'variable.other.flow'],
    ['on x if note == "vip" and due > 3 send hours', 'hours', 'entity.name.function.message.flow'],
    ['priority: 1', 'priority', 'variable.other.property.flow'],
  ];
  for (const [text, token, expected, nth] of cases) {
    assert.equal(scopeOf(text, token, nth), expected, `${JSON.stringify(token)} in ${JSON.stringify(text)}`);
  }
});

test('every reserved word of flow.pest is highlighted as a keyword, and only as a whole word', () => {
  for (const word of reserved) {
    for (const text of [word, `on x if y ${word} z`, `on x send ${word}`, `flow ${word}`]) {
      const scope = scopeOf(text, word);
      assert.match(scope, keywordScope, `${word} in ${JSON.stringify(text)}: ${scope}`);
    }
    for (const name of [`${word}_x`, `${word}é`, `x${word}`, `${word}1`]) {
      assert.equal(scopeOf(`on x if ${name} == 1 send y`, name), 'variable.other.flow', name);
    }
  }
});

test('every contextual word of flow.pest is a keyword where it stands', () => {
  // One line per word that puts it where the grammar makes it a keyword.
  const samples = {
    of: 'on anniversary of joined send x',
    as: 'on anniversary of joined as n send x',
    for: 'on no visit for 60d send x',
    before: 'when 3d before renewal send x',
    after: 'when 2d after presentation send x',
    at: 'on cart_abandoned + 1d at 10:00 send x',
    with: 'on x send offer with coupon valid 30d',
    from: 'on x send tenth from account_manager',
    coupon: 'on x send offer with coupon valid 30d',
    valid: 'on x send offer with coupon valid 30d',
    link: 'on x if clicked presentation link "b" send y',
    note: 'on x task call for manager note "call them" due 2d',
    due: 'on x task call for manager note "call them" due 2d',
    to: 'policy { quiet hours 21:00 to 08:00 }',
    most: 'policy { at most 3 messages per 7d }',
    per: 'policy { at most 3 messages per 7d }',
    priority: 'policy {\n  priority shipped > abandoned_cart\n}',
    quiet: 'policy { quiet hours 21:00 to 08:00 }',
    hours: 'policy { quiet hours 21:00 to 08:00 }',
  };
  for (const word of contextual) {
    assert.ok(word in samples, `contextual word \`${word}\` has no sample here: add one (and a rule to the grammar)`);
    assert.equal(scopeOf(samples[word], word), 'keyword.other.contextual.flow', `${word} in ${samples[word]}`);
  }
  assert.equal(scopeOf('policy { at most 3 messages per 7d }', 'messages'), 'support.constant.channel.flow');
  assert.equal(scopeOf('policy { at most 3 messages per 7d }', '7d'), 'constant.numeric.duration.flow');
  assert.equal(scopeOf('policy { at most 3 messages per 7d }', '}'), 'punctuation.section.block.end.flow');
  // After the block, policy words are names again.
  assert.equal(scopeOf('policy { at most 1 sms per 1d }\non x if most > 1 send y', 'most', 1), 'variable.other.flow');
});

/** Every .flow file under examples/, and every ```flow block of docs/language.md. */
function corpus() {
  const texts = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.flow')) {
        texts.push({ name: path.relative(repo, full), text: fs.readFileSync(full, 'utf8'), valid: true });
      }
    }
  };
  walk(path.join(repo, 'examples'));
  const language = fs.readFileSync(path.join(repo, 'docs', 'language.md'), 'utf8');
  for (const m of language.matchAll(/^```flow([^\n]*)\n([\s\S]*?)^```/gm)) {
    texts.push({ name: `docs/language.md block ${texts.length}`, text: m[2], valid: !m[1].includes('fails') });
  }
  return texts;
}

test('examples and documented flows: every character is scoped, valid ones have nothing invalid', () => {
  const texts = corpus();
  assert.ok(texts.filter((t) => t.name.startsWith('examples')).length >= 10, 'the examples are found');
  let tokens = 0;
  for (const { name, text, valid } of texts) {
    for (const token of tokenize(text)) {
      tokens += 1;
      const where = `${name}:${token.line} ${JSON.stringify(token.text)} ${token.scopes.join(' ')}`;
      if (token.text.trim() !== '') {
        assert.ok(token.scopes.length > 1, `unscoped text: ${where}`);
      }
      if (valid) {
        assert.ok(!token.scopes.some((s) => s.startsWith('invalid.')), `invalid in a valid flow: ${where}`);
      }
      const inert = token.scopes.some((s) => s.startsWith('comment.') || s.startsWith('string.'));
      if (!inert && reserved.includes(token.text)) {
        assert.match(token.scopes[token.scopes.length - 1], keywordScope, where);
      }
    }
  }
  assert.ok(tokens > 1000, `only ${tokens} tokens`);
});

test('an unterminated string ends with its line', () => {
  assert.equal(scopeOf('title: "no end\non x send y', 'on'), 'keyword.control.flow');
});
