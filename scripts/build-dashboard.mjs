// Bundles the dashboard page (web/dashboard/) into dist/dashboard/: assets/<name>-<hash>.js|css, named
// by content so they can be cached for a year, and index.html pointing at them (served no-store).
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { build } from 'esbuild';

export async function buildDashboard({ outdir = 'dist/dashboard', root = process.cwd() } = {}) {
  const out = join(root, outdir);
  await rm(out, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['web/dashboard/main.tsx'],
    outdir: join(out, 'assets'),
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    jsx: 'automatic',
    tsconfig: 'web/dashboard/tsconfig.json',
    define: { 'process.env.NODE_ENV': '"production"' },
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
  const js = outputs.find((n) => n.endsWith('.js'));
  const css = outputs.find((n) => n.endsWith('.css'));
  if (!js || !css) throw new Error('dashboard build: missing script or stylesheet output');
  const template = await readFile(join(root, 'web/dashboard/index.html'), 'utf8');
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'index.html'), template.replace('%SCRIPT%', `/dashboard/assets/${js}`).replace('%STYLE%', `/dashboard/assets/${css}`));
  return { js, css };
}
