'use strict';
// The Flow extension for VS Code. Highlighting comes from the TextMate
// grammar named in package.json; everything else (diagnostics while typing,
// completion, hover, formatting) from the flowc language server, `flowc lsp`,
// which this starts with vscode-languageclient.

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');
const { serverOptions } = require('./server');

/** The running client, if the server started. */
let client;

async function startClient() {
  const options = serverOptions(vscode.workspace.getConfiguration('flow').get('server.path'));
  const candidate = new LanguageClient('flow', 'Flow language server', options, {
    documentSelector: [
      { scheme: 'file', language: 'flow' },
      { scheme: 'untitled', language: 'flow' },
    ],
    // The checker reads the project around a flow: tell the server when
    // the contact schema or a template changes.
    synchronize: {
      fileEvents: vscode.workspace.createFileSystemWatcher('**/{flow.toml,templates/**}'),
    },
  });
  try {
    await candidate.start();
    client = candidate;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    vscode.window.showErrorMessage(
      `Flow: could not start \`${options.command} lsp\` (${message}). ` +
        'Install flowc (cargo install --path . in its repository) or set "flow.server.path".',
    );
  }
}

async function stopClient() {
  const running = client;
  client = undefined;
  if (running) await running.stop();
}

async function restart() {
  await stopClient();
  await startClient();
}

async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('flow.restartServer', restart),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('flow.server.path')) return restart();
      return undefined;
    }),
  );
  await startClient();
}

function deactivate() {
  return stopClient();
}

module.exports = { activate, deactivate };
