/**
 * The API report: api-extractor's summary of every public entry point (`.` and each subpath of
 * package.json's `exports`), checked in under `api/`. `npm run api:update` rewrites the reports;
 * `test/package/apiReport.test.ts` fails when the public surface differs from them.
 *
 * Usage: `node --import tsx scripts/apiReport.ts [--update]`
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Extractor, ExtractorConfig, ExtractorLogLevel } from '@microsoft/api-extractor';

const root = join(import.meta.dirname, '..');

/** The public entry points: `.` → `ordo`, `./store` → `ordo-store`… (from package.json's exports). */
export function entryPoints(): Array<{ subpath: string; report: string; dts: string }> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
  return Object.entries(pkg.exports)
    .filter(([k, v]) => typeof v === 'object' && v !== null && 'types' in v && k !== './package.json')
    .map(([k, v]) => ({
      subpath: k,
      report: k === '.' ? 'ordo' : `ordo-${k.slice(2).replace(/\//g, '-')}`,
      dts: (v as { types: string }).types.replace(/^\.\/dist\//, ''),
    }));
}

/** Emits the declarations to a temporary folder and returns each entry point's report text. */
export function generateReports(): Map<string, string> {
  const out = mkdtempSync(join(tmpdir(), 'ordo-api-'));
  try {
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--emitDeclarationOnly', '--sourceMap', 'false', '--inlineSources', 'false', '--outDir', join(out, 'dts')], { stdio: 'inherit' });
    writeFileSync(join(out, 'package.json'), JSON.stringify({ name: 'ordo', version: '0.0.0' }));
    writeFileSync(join(out, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, skipLibCheck: true, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] }, include: ['dts'] }));
    mkdirSync(join(out, 'reports'));
    const reports = new Map<string, string>();
    for (const e of entryPoints()) {
      const config = ExtractorConfig.prepare({
        configObjectFullPath: join(out, 'api-extractor.json'),
        packageJsonFullPath: join(out, 'package.json'),
        configObject: {
          projectFolder: out,
          mainEntryPointFilePath: join(out, 'dts', e.dts),
          compiler: { tsconfigFilePath: join(out, 'tsconfig.json') },
          apiReport: { enabled: true, reportFileName: `${e.report}.api.md`, reportFolder: join(out, 'reports'), reportTempFolder: join(out, 'temp') },
          docModel: { enabled: false },
          dtsRollup: { enabled: false },
          tsdocMetadata: { enabled: false },
          newlineKind: 'lf',
          messages: {
            compilerMessageReporting: { default: { logLevel: ExtractorLogLevel.Warning } },
            extractorMessageReporting: { default: { logLevel: ExtractorLogLevel.None } },
            tsdocMessageReporting: { default: { logLevel: ExtractorLogLevel.None } },
          },
        },
      });
      const result = Extractor.invoke(config, { localBuild: true, showVerboseMessages: false, messageCallback: (m) => { if (process.env.API_DEBUG) console.error(m.text); m.handled = m.logLevel !== ExtractorLogLevel.Error; } });
      if (result.compilerState === undefined && !result.succeeded) throw new Error(`api-extractor failed for ${e.subpath}`);
      reports.set(`${e.report}.api.md`, readFileSync(join(out, 'reports', `${e.report}.api.md`), 'utf8'));
    }
    return reports;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const reports = generateReports();
  const dir = join(root, 'api');
  if (process.argv.includes('--update')) {
    for (const f of existsSync(dir) ? readdirSync(dir) : []) if (f.endsWith('.api.md') && !reports.has(f)) rmSync(join(dir, f));
    for (const [f, text] of reports) writeFileSync(join(dir, f), text);
    console.log(`api: wrote ${[...reports.keys()].join(', ')} to api/`);
  } else {
    const stale = [...reports].filter(([f, text]) => !existsSync(join(dir, f)) || readFileSync(join(dir, f), 'utf8') !== text).map(([f]) => f);
    if (stale.length) {
      console.error(`api: the public surface changed (${stale.join(', ')}): review, then run npm run api:update`);
      process.exitCode = 1;
    } else console.log('api: reports match');
  }
}
