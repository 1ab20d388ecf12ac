// Rebuilds referential.json.gz from @etalab/decoupage-administratif (MIT).
// Usage: node refresh-referential.mjs [version]   (default 6.0.0, the 2026 COG)
// Downloads the package with `npm pack` into a temp dir; the API never needs the network.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const version = process.argv[2] ?? '6.0.0';
const work = mkdtempSync(join(tmpdir(), 'decoupage-'));
try {
  execFileSync('npm', ['pack', `@etalab/decoupage-administratif@${version}`, '--silent'], { cwd: work, stdio: ['ignore', 'pipe', 'inherit'] });
  execFileSync('tar', ['xzf', `etalab-decoupage-administratif-${version}.tgz`], { cwd: work });
  const read = (f) => JSON.parse(readFileSync(join(work, 'package', 'data', f), 'utf8'));

  const departements = read('departements.json')
    .map((d) => ({ code: d.code, name: d.nom, region: d.region }))
    .sort((a, b) => a.code.localeCompare(b.code));

  // Only current communes; delegated/associated communes and municipal districts are not bodies of their own.
  const communes = read('communes.json')
    .filter((c) => c.type === 'commune-actuelle')
    .map((c) => ({
      code: c.code, name: c.nom, departement: c.departement, region: c.region,
      siren: c.siren ?? null, population: c.population ?? null,
      formerCodes: c.anciensCodes ?? [],
    }))
    .sort((a, b) => a.code.localeCompare(b.code));

  const epci = read('epci.json')
    .map((e) => ({ siren: e.code, name: e.nom, type: e.type, population: e.populationTotale ?? null, members: e.membres.map((m) => m.code).sort() }))
    .sort((a, b) => a.siren.localeCompare(b.siren));

  const out = { source: `@etalab/decoupage-administratif@${version}`, vintage: version, departements, communes, epci };
  const target = join(dirname(fileURLToPath(import.meta.url)), 'referential.json.gz');
  writeFileSync(target, gzipSync(Buffer.from(JSON.stringify(out)), { level: 9 }));
  console.log(`${target}: ${departements.length} départements, ${communes.length} communes, ${epci.length} EPCI`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
