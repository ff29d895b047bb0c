/**
 * The shipped process-manager files: the systemd unit passes `systemd-analyze verify` (and a strict
 * parse of our own), the supervisord program uses only keys supervisord knows, and both wait longer
 * on stop than any job may run, by the same number of seconds.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from '../helpers/cli.ts';
import { iniValue, longestJobTimeout, parseIni, SHIPPED_UNIT, shippedProgram, shippedUnit, type Ini } from '../helpers/supervisord.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'queue-process-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The keys each section of a service unit may use here (systemd.unit(5), systemd.service(5), systemd.exec(5), systemd.kill(5)). */
const UNIT_KEYS: Record<string, string[]> = {
  Unit: ['Description', 'Documentation', 'After', 'Before', 'Wants', 'Requires', 'Requisite', 'BindsTo', 'PartOf', 'Conflicts', 'ConditionPathExists', 'AssertPathExists', 'StartLimitIntervalSec', 'StartLimitBurst'],
  Service: [
    'Type', 'ExecStart', 'ExecStartPre', 'ExecStartPost', 'ExecStop', 'ExecStopPost', 'ExecReload', 'WorkingDirectory', 'User', 'Group', 'Environment', 'EnvironmentFile',
    'Restart', 'RestartSec', 'KillSignal', 'KillMode', 'SendSIGKILL', 'FinalKillSignal', 'TimeoutStartSec', 'TimeoutStopSec', 'TimeoutSec', 'SuccessExitStatus',
    'RestartPreventExitStatus', 'StandardOutput', 'StandardError', 'SyslogIdentifier', 'LimitNOFILE', 'MemoryMax', 'NoNewPrivileges', 'PrivateTmp', 'ProtectSystem', 'ProtectHome',
  ],
  Install: ['WantedBy', 'RequiredBy', 'Alias', 'Also', 'DefaultInstance'],
};

/** The keys of a supervisord [program:x] section (supervisord's manual, "[program:x] Section Values"). */
const PROGRAM_KEYS = [
  'command', 'process_name', 'numprocs', 'numprocs_start', 'priority', 'autostart', 'startsecs', 'startretries', 'autorestart', 'exitcodes', 'stopsignal', 'stopwaitsecs',
  'stopasgroup', 'killasgroup', 'user', 'redirect_stderr', 'stdout_logfile', 'stdout_logfile_maxbytes', 'stdout_logfile_backups', 'stdout_capture_maxbytes', 'stdout_events_enabled',
  'stdout_syslog', 'stderr_logfile', 'stderr_logfile_maxbytes', 'stderr_logfile_backups', 'stderr_capture_maxbytes', 'stderr_events_enabled', 'stderr_syslog', 'environment',
  'directory', 'umask', 'serverurl',
];

/** Every line of a unit is a [Section], a comment or Key=Value with a key known for its section. */
function unknownUnitKeys(ini: Ini): string[] {
  return [...ini.sections].flatMap(([section, entries]) => {
    const known = UNIT_KEYS[section];
    if (!known) return [`[${section}]`];
    return entries.filter(([key]) => !known.includes(key)).map(([key]) => `[${section}] ${key}`);
  });
}

/** systemd-analyze verify on a copy named like an instance; its complaints about that file. */
function verify(text: string): { code: number | null; complaints: string[] } | undefined {
  const file = path.join(dir, 'queue-worker@1.service');
  writeFileSync(file, text);
  const result = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', timeout: 30_000 });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  const complaints = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line.includes('queue-worker@1.service'));
  return { code: result.status, complaints };
}

/** TimeoutStopSec as seconds: a plain number or `<n>s` (what we ship; other forms are refused). */
function seconds(value: string): number {
  const match = /^(\d+)s?$/.exec(value);
  assert.ok(match, `TimeoutStopSec=${value}: write plain seconds`);
  return Number(match[1]);
}

describe('the systemd unit', () => {
  it('passes systemd-analyze verify, which does complain about a misspelt key', (t) => {
    const shipped = verify(installedHere(readShipped()));
    if (!shipped) {
      t.skip('systemd-analyze is not installed; the strict parse below stands in for it');
      return;
    }
    assert.deepEqual(shipped, { code: 0, complaints: [] });
    const broken = verify(installedHere(readShipped()).replace('KillSignal=', 'KilSignal='));
    assert.ok(broken!.complaints.some((line) => /Unknown key (name )?'KilSignal'/.test(line)), broken!.complaints.join('\n'));
  });

  it('parses strictly: sections, comments and known keys only; Restart=always, KillSignal=SIGTERM and a TimeoutStopSec', () => {
    const unit = shippedUnit();
    assert.deepEqual(unknownUnitKeys(unit), []);
    assert.equal(iniValue(unit, 'Service', 'Restart'), 'always');
    assert.equal(iniValue(unit, 'Service', 'KillSignal'), 'SIGTERM');
    assert.ok(seconds(iniValue(unit, 'Service', 'TimeoutStopSec')) > 0);
    assert.throws(() => parseIni(readShipped().replace('[Install]', 'Install'), 'edited'), /edited:\d+: not a \[section\], comment or key=value line: Install/);
    assert.deepEqual(unknownUnitKeys(parseIni(readShipped().replace('KillSignal=', 'KilSignal='), 'edited')), ['[Service] KilSignal']);
  });
});

describe('the supervisord program', () => {
  it('uses only keys supervisord knows, and stops with TERM', () => {
    const { ini, section } = shippedProgram();
    assert.deepEqual(ini.sections.get(section)!.map(([key]) => key).filter((key) => !PROGRAM_KEYS.includes(key)), []);
    assert.equal(iniValue(ini, section, 'stopsignal'), 'TERM');
    assert.equal(iniValue(ini, section, 'autorestart'), 'true');
  });

  it('gives each process a log file of its own when it runs several and rotates them', () => {
    const { ini, section } = shippedProgram();
    const rotates = iniValue(ini, section, 'stdout_logfile_maxbytes') !== '0';
    if (Number(iniValue(ini, section, 'numprocs')) > 1 && rotates) {
      // supervisord's manual: two processes cannot share a log file that is rotated ("the file being corrupted").
      assert.match(iniValue(ini, section, 'stdout_logfile'), /%\(process_num\)/);
    }
  });
});

describe('stop timeouts', () => {
  it('supervisord stopwaitsecs equals systemd TimeoutStopSec, and both exceed every job timeout', () => {
    const { ini, section } = shippedProgram();
    const stopwaitsecs = Number(iniValue(ini, section, 'stopwaitsecs'));
    const timeoutStopSec = seconds(iniValue(shippedUnit(), 'Service', 'TimeoutStopSec'));
    assert.equal(stopwaitsecs, timeoutStopSec);
    const longest = longestJobTimeout(iniValue(ini, section, 'command'));
    assert.ok(longest.seconds > 0);
    assert.ok(stopwaitsecs > longest.seconds, `stop timeouts of ${stopwaitsecs}s must exceed ${longest.seconds}s, the timeout of ${longest.by}`);
  });

  it('both run bin/queue.js itself, by its absolute path in the working directory, so its memory flags apply', () => {
    const { ini, section } = shippedProgram();
    const unit = shippedUnit();
    // supervisord looks a relative command up from its own directory, and systemd wants an absolute
    // path; `node bin/queue.js` would drop the memory flags its first lines give node
    // (test/e2e/binary.e2e.test.ts checks that they reach the process).
    assert.equal(iniValue(ini, section, 'command').split(' ')[0], path.join(iniValue(ini, section, 'directory'), 'bin/queue.js'));
    assert.equal(iniValue(unit, 'Service', 'ExecStart').split(' ')[0], path.join(iniValue(unit, 'Service', 'WorkingDirectory'), 'bin/queue.js'));
    assert.ok(statSync(path.join(repoRoot, 'bin/queue.js')).mode & 0o111, 'bin/queue.js is executable');
  });

  it('both files start the same worker command, each naming its processes in its own words', () => {
    const { ini, section } = shippedProgram();
    const withoutName = (command: string) => command.replace(/ --name \S+/, '');
    assert.equal(withoutName(iniValue(shippedUnit(), 'Service', 'ExecStart')), withoutName(iniValue(ini, section, 'command')));
  });
});

function readShipped(): string {
  return readFileSync(SHIPPED_UNIT, 'utf8');
}

/** The unit as installed for this checkout: its WorkingDirectory (so the path in ExecStart too) is the repo. */
function installedHere(text: string): string {
  return text.replaceAll(iniValue(parseIni(text, SHIPPED_UNIT), 'Service', 'WorkingDirectory'), repoRoot);
}
