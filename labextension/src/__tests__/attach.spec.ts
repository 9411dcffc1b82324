/**
 * The "Open in notebook" cell and the dashboard's `jupyter hpo stop` hint for a job name from the store: a name that
 * follows the job-name rule is written as is; any other only inside a Python string literal or shell quotes, so a
 * study named `x{__import__('os').system(...)}` or with a newline runs no code for whoever clicks.
 */
import { readFileSync } from 'fs';
import { join } from 'path';

import { attachCode, JOB_NAME, pythonString } from '../attach';
import { JOB_NAME as DASHBOARD_JOB_NAME, stopCommand } from '../dashboard';

const HOSTILE = [
  "x{__import__('os').system('touch /tmp/pwned')}",
  "y\nimport os; os.system('touch /tmp/pwned')",
  'z$HOME "double" \'single\' back\\slash\\"',
  'line\u2028sep\u2029para\u0085nel\rcr\u000bvt\u000cff\u0000nul\u007fdel',
  'bad name with spaces',
  '-starts-with-dash',
  'a'.repeat(64) // one over the 63 the rule allows
];
const PREAMBLE = [
  "# this job name has characters other than letters, digits and '-': %hpo attach cannot take it",
  'from IPython.display import display',
  'from jupyter_hpo.widgets import Dashboard'
];
const CALL = /^display\(Dashboard\(("(?:[^"\\]|\\.)*")\)\)$/;

describe('attachCode', () => {
  it('attaches a job with a valid name through %hpo attach', () => {
    expect(attachCode('credit-xgb')).toBe('%load_ext jupyter_hpo\n%hpo attach credit-xgb');
    expect(attachCode('A'.repeat(63))).toBe(`%load_ext jupyter_hpo\n%hpo attach ${'A'.repeat(63)}`);
  });

  it.each(HOSTILE)('puts any other name only inside a Python string literal: %j', name => {
    const lines = attachCode(name).split('\n');
    expect(lines.slice(0, 3)).toEqual(PREAMBLE);
    expect(lines).toHaveLength(4);
    const literal = CALL.exec(lines[3])?.[1];
    expect(literal).toBeDefined();
    // printable ASCII only: no line break of any kind, nothing IPython's splitlines() would split at
    expect(literal).toMatch(/^[\x20-\x7e]+$/);
    expect(JSON.parse(literal as string)).toBe(name);
  });
});

describe('pythonString', () => {
  it('writes a character outside the BMP as one \\U escape, as Python reads it', () => {
    expect(pythonString('a\u{1f600}b')).toBe('"a\\U0001f600b"');
  });

  it('escapes a lone surrogate rather than writing it raw', () => {
    expect(pythonString('\ud800')).toBe('"\\ud800"');
  });
});

/** The words a POSIX shell makes of `cmd`; throws on an unquoted character the shell would treat specially. */
function shellWords(cmd: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i];
    if (c === "'") {
      const end = cmd.indexOf("'", i + 1);
      expect(end).toBeGreaterThan(i);
      word = (word ?? '') + cmd.slice(i + 1, end);
      i = end;
    } else if (c === '\\') {
      word = (word ?? '') + cmd[++i];
    } else if (c === ' ') {
      if (word !== null) {
        words.push(word);
      }
      word = null;
    } else if (/[A-Za-z0-9_.\/-]/.test(c)) {
      word = (word ?? '') + c;
    } else {
      throw new Error(`unquoted ${JSON.stringify(c)} in ${JSON.stringify(cmd)}`);
    }
  }
  return word === null ? words : [...words, word];
}

describe('stopCommand', () => {
  it('names a job with a valid name as is', () => {
    expect(stopCommand('credit-xgb')).toBe('jupyter hpo stop credit-xgb');
  });

  it.each(HOSTILE)('single-quotes any other name for a POSIX shell: %j', name => {
    expect(shellWords(stopCommand(name))).toEqual(['jupyter', 'hpo', 'stop', '--', name]);
  });
});

describe('the job-name rule', () => {
  it('is the one the Python side applies, in the sidebar and in the dashboard', () => {
    const root = join(__dirname, '..', '..', '..', 'jupyter_hpo');
    const spec = readFileSync(join(root, 'spec.py'), 'utf8');
    const python = /^_JOB_NAME = re\.compile\(r"(.*)"\)$/m.exec(spec)?.[1];
    expect(JOB_NAME.source).toBe(`^${python}$`);
    expect(DASHBOARD_JOB_NAME.source).toBe(JOB_NAME.source);
    const handlers = readFileSync(join(root, 'server', '_handlers.py'), 'utf8');
    expect(handlers).toContain(`JOB_NAME = r"(?P<name>${python})"`);
  });
});
