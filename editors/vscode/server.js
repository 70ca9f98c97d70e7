'use strict';
// How the extension starts the language server, apart from VS Code so that
// it can be tested with plain node: the `flow.server.path` setting names the
// flowc executable (a name on PATH or a path), and the server is `flowc lsp`
// speaking LSP over stdin/stdout.

const os = require('node:os');
const path = require('node:path');

/** The flowc executable for a `flow.server.path` value: `flowc` when unset. */
function serverCommand(setting) {
  const value = typeof setting === 'string' ? setting.trim() : '';
  if (value === '') return 'flowc';
  if (value === '~' || value.startsWith('~/')) return path.join(os.homedir(), value.slice(1));
  return value;
}

/** The server options of vscode-languageclient: one process, stdio. */
function serverOptions(setting) {
  return { command: serverCommand(setting), args: ['lsp'] };
}

module.exports = { serverCommand, serverOptions };
