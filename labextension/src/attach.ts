/**
 * The code of the "Open in notebook" cell for a job. No JupyterLab imports here, so jest can test it.
 *
 * The name comes from the store's job list, which anyone sharing the store can fill, and IPython expands
 * `{expr}` and `$var` in line-magic arguments and starts a new line of code at a newline: only a name that
 * follows the job-name rule goes after `%hpo attach`; any other is written as a Python string literal.
 */

/** The job-name rule, jupyter_hpo/spec.py `_JOB_NAME` (and the REST routes' JOB_NAME): 1-63 letters, digits and
 * '-', starting with a letter or digit. */
export const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9\-]{0,62}$/;

/**
 * `s` as a Python string literal made of printable ASCII only: any other character is escaped, so no line
 * break of any kind (`\n`, U+2028, U+0085, which IPython's `splitlines()` also splits at) and nothing that
 * an editor or IPython could read as code is left in the cell.
 */
export function pythonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number; // a lone surrogate comes as one code unit and is escaped too
    if (ch === '"' || ch === '\\') {
      out += '\\' + ch;
    } else if (cp >= 0x20 && cp <= 0x7e) {
      out += ch;
    } else if (cp <= 0xffff) {
      out += '\\u' + cp.toString(16).padStart(4, '0');
    } else {
      // Python reads "\ud83d\ude00" as two lone surrogates, not one character: astral ones take \U
      out += '\\U' + cp.toString(16).padStart(8, '0');
    }
  }
  return out + '"';
}

/** The cell that shows the live dashboard of the job `name`. */
export function attachCode(name: string): string {
  if (JOB_NAME.test(name)) {
    return `%load_ext jupyter_hpo\n%hpo attach ${name}`;
  }
  // what `%hpo attach` shows (HpoMagics.show), without a magic line to expand the name in
  return [
    '# this job name has characters other than letters, digits and \'-\': %hpo attach cannot take it',
    'from IPython.display import display',
    'from jupyter_hpo.widgets import Dashboard',
    `display(Dashboard(${pythonString(name)}))`
  ].join('\n');
}
