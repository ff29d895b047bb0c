import type { Command } from 'commander';

/** Adds the usual `--connection` option and an examples section to a command's --help. */
export function withConnection(command: Command): Command {
  return command.option('-c, --connection <name>', 'the connection (default: QUEUE_CONNECTION)');
}

export function examples(command: Command, lines: string[]): Command {
  return command.addHelpText('after', `\nExamples:\n${lines.map((line) => `  $ ${line}`).join('\n')}\n`);
}
