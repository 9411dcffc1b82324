// `jlpm build:dashboard`: writes the dashboard's anywidget ES module, jupyter_hpo/widgets/dashboard.js, from
// tsc's output for labextension/src/dashboard.ts (labextension/lib/dashboard-esm/, labextension/tsconfig.dashboard.json).
// anywidget loads that file from a string, so it must import nothing at run time: this fails the build if it does.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const SOURCE = 'labextension/lib/dashboard-esm/dashboard.js';
const TARGET = 'jupyter_hpo/widgets/dashboard.js';
const HEADER =
  '// Built by `jlpm build` from labextension/src/dashboard.ts (edit that file, not this one).\n';
// a static import or re-export, a dynamic import() or a require(): anything loaded at run time
const RUNTIME_IMPORT = /^\s*import[\s{*'"]|^\s*export\s[^;]*\bfrom\s*['"]|\bimport\s*\(|\brequire\s*\(/m;

let js;
try {
  js = readFileSync(SOURCE, 'utf8');
} catch (e) {
  console.error(`build:dashboard: ${SOURCE} is missing; run \`jlpm build:dashboard\` (${e.message})`);
  process.exit(1);
}
js = js.replace(/\n\/\/# sourceMappingURL=\S*\s*$/, '\n');
const code = js.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, ''); // without comments
const found = code.match(RUNTIME_IMPORT);
if (found) {
  console.error(`build:dashboard: ${SOURCE} loads code at run time (${found[0].trim()}); ` +
    'anywidget loads the dashboard from a string: use type-only imports (`import type`) only.');
  process.exit(1);
}
mkdirSync(dirname(TARGET), { recursive: true });
writeFileSync(TARGET, HEADER + js);
console.log(`build:dashboard: wrote ${TARGET} (${Buffer.byteLength(HEADER + js)} bytes)`);
