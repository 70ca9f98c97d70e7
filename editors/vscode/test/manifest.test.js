// The extension's manifest and server launch, checked with plain node (the
// `vscode` module exists only inside VS Code, so extension.js keeps what can
// be checked here in server.js).
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');
const { serverCommand, serverOptions } = require('../server');

const dir = path.resolve(__dirname, '..');
const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));

test('the manifest declares the flow language, its grammar and its configuration', () => {
  const [language] = manifest.contributes.languages;
  assert.equal(language.id, 'flow');
  assert.deepEqual(language.extensions, ['.flow']);
  const configuration = JSON.parse(fs.readFileSync(path.join(dir, language.configuration), 'utf8'));
  assert.equal(configuration.comments.lineComment, '#');
  const pairs = configuration.autoClosingPairs.map((p) => p.open + p.close);
  assert.deepEqual(pairs, ['{}', '[]', '()', '""']);

  const [grammar] = manifest.contributes.grammars;
  assert.equal(grammar.language, 'flow');
  const shipped = JSON.parse(fs.readFileSync(path.join(dir, grammar.path), 'utf8'));
  assert.equal(shipped.scopeName, grammar.scopeName);

  const setting = manifest.contributes.configuration.properties['flow.server.path'];
  assert.equal(setting.default, 'flowc');
  assert.equal(manifest.main, './extension.js');
  assert.ok(fs.existsSync(path.join(dir, manifest.main)));
  assert.ok(manifest.activationEvents.includes('onLanguage:flow'));
  const commands = manifest.contributes.commands.map((c) => c.command);
  assert.ok(fs.readFileSync(path.join(dir, 'extension.js'), 'utf8').includes(`'${commands[0]}'`));
});

test('the server is `flowc lsp`, or the configured executable with `lsp`', () => {
  assert.deepEqual(serverOptions(undefined), { command: 'flowc', args: ['lsp'] });
  assert.deepEqual(serverOptions('  '), { command: 'flowc', args: ['lsp'] });
  assert.deepEqual(serverOptions('/opt/flowc/bin/flowc'), { command: '/opt/flowc/bin/flowc', args: ['lsp'] });
  assert.equal(serverCommand('~/.cargo/bin/flowc'), path.join(os.homedir(), '.cargo/bin/flowc'));
  assert.equal(serverCommand('C:\\tools\\flowc.exe'), 'C:\\tools\\flowc.exe');
});
