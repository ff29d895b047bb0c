/**
 * `queue completion bash|zsh`: a completion script for the shell, made from the commands and
 * options this program defines, so it never falls behind them. zsh runs the bash function through
 * its bashcompinit.
 */
import type { Command } from 'commander';
import { QueueError } from '../../errors.ts';
import { examples } from '../help.ts';

const SHELLS = ['bash', 'zsh'] as const;

export function registerCompletion(program: Command): void {
  const command = program.command('completion <shell>').description('print a completion script for bash or zsh');
  examples(command, ['source <(npx queue completion bash)   # in ~/.bashrc', 'source <(npx queue completion zsh)    # in ~/.zshrc, after compinit']);
  command.action((shell: string) => {
    if (!(SHELLS as readonly string[]).includes(shell)) throw new QueueError('INVALID_ARGUMENT', `no completion for '${shell}'; choose bash or zsh`);
    process.stdout.write(completionScript(program, shell as (typeof SHELLS)[number]));
  });
}

export function completionScript(program: Command, shell: 'bash' | 'zsh'): string {
  const help = program.createHelp();
  const commands = help.visibleCommands(program).filter((command) => command.name() !== 'help');
  const flags = (command: Command) => help.visibleOptions(command).flatMap((option) => [option.short, option.long]).filter((flag): flag is string => flag !== undefined);
  const cases = commands.map((command) => `    ${quote(command.name())}) words=${quote(flags(command).join(' '))} ;;`);
  // The line up to the cursor, not COMP_WORDS: bash splits words at ':' (failed:list), zsh does not.
  const lines = [
    `# queue: completion for ${shell}. Load it with: source <(npx queue completion ${shell})`,
    ...(shell === 'zsh' ? ['autoload -U +X bashcompinit && bashcompinit'] : []),
    '_queue_complete() {',
    '  local line=${COMP_LINE:0:$COMP_POINT} words word',
    '  local cur=${line##*[[:space:]]}',
    '  local rest=${line#*[[:space:]]}',
    '  if [[ $rest != *[[:space:]]* ]]; then',
    `    words=${quote(commands.map((command) => command.name()).join(' '))}`,
    '  else',
    '    case "${rest%%[[:space:]]*}" in',
    ...cases.map((line) => `  ${line}`),
    "      *) words='' ;;",
    '    esac',
    '  fi',
    '  COMPREPLY=()',
    `  for word in ${shell === 'zsh' ? '${=words}' : '$words'}; do [[ $word == "$cur"* ]] && COMPREPLY+=("$word"); done`,
    '  # bash completes only what follows the last \':\' of the word.',
    '  if [[ $cur == *:* && ${COMP_WORDBREAKS-} == *:* ]]; then',
    '    local prefix=${cur%"${cur##*:}"}',
    '    COMPREPLY=("${COMPREPLY[@]#"$prefix"}")',
    '  fi',
    '}',
    'complete -F _queue_complete queue',
    '',
  ];
  return lines.join('\n');
}

/** A shell word in single quotes (command names and flags have none of their own). */
function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
