/**
 * `queue completion bash|zsh`, loaded into a real bash and zsh: it completes command names (those
 * with a colon too) and each command's options.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ensureBuilt } from '../helpers/build.ts';
import { repoRoot, run, testEnv } from '../helpers/cli.ts';

const BIN = path.join(repoRoot, 'bin/queue.js');
/** A home of its own: zsh's compinit writes its dump file there, and no rc file of this machine's applies. */
const home = mkdtempSync(path.join(tmpdir(), 'queue-completion-'));

/** What the shell offers for `line` typed at its prompt (the cursor at its end). */
function completions(shell: 'bash' | 'zsh', line: string): string[] {
  ensureBuilt();
  const load = `source <('${process.execPath}' '${BIN}' completion ${shell})`;
  const script = shell === 'bash'
    ? `${load}; COMP_LINE="$1"; COMP_POINT=\${#COMP_LINE}; _queue_complete; printf '%s\\n' "\${COMPREPLY[@]}"`
    // As zsh's completion system calls it: through bashcompinit's compgen.
    : `autoload -U compinit && compinit -u; ${load}; [[ $_comps[queue] == '_bash_complete -F _queue_complete' ]] || exit 3; export COMP_LINE="$1" COMP_POINT=\${#1}; compgen -F _queue_complete -- "\${1##* }"`;
  return execFileSync(shell, ['-c', script, 'completion-test', line], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, HOME: home, ZDOTDIR: home } }).split('\n').filter(Boolean);
}

describe('shell completion', () => {
  for (const shell of ['bash', 'zsh'] as const) {
    it(`${shell}: commands, commands with a colon, and a command's options`, () => {
      assert.deepEqual(completions(shell, 'queue wo'), ['work', 'workers']);
      assert.deepEqual(completions(shell, 'queue da'), ['dashboard']);
      assert.deepEqual(completions(shell, 'queue failed:l'), [shell === 'bash' ? 'list' : 'failed:list']);
      assert.deepEqual(completions(shell, 'queue work --con'), ['--connection', '--concurrency']);
      assert.deepEqual(completions(shell, 'queue clear --f'), ['--force']);
      assert.ok(completions(shell, 'queue ').includes('dispatch'));
    });
  }

  it('another shell is one line that names the two there are', async () => {
    const result = await run(['completion', 'fish'], testEnv());
    assert.equal(result.code, 1);
    assert.equal(result.stderr, "error: no completion for 'fish'; choose bash or zsh\n");
  });
});
