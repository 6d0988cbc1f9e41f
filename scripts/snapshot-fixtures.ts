/**
 * Writes the snapshot fixtures of the current machine versions: one per reachable state of each
 * of the library's machines, under test/fixtures/snapshots/<machine>/v<version>/. Run it at every
 * release (`npm run fixtures:snapshots`) and commit the new folder; see docs/snapshot-migration.md.
 */
import { relative } from 'node:path';
import { planPaths } from '../adapters/visual/paths.js';
import { projectSubjects } from '../adapters/visual/samples.js';
import { PROJECT_ROOT } from './lib/cli.js';
import { writeFixtures } from './lib/snapshot-fixtures.js';

for (const subject of projectSubjects()) {
  const files = writeFixtures(subject, planPaths(subject));
  process.stdout.write(`${subject.id} v${subject.lifecycle.version}: ${files.length} fixtures in ${relative(PROJECT_ROOT, `${files[0] ?? ''}/..`)}\n`);
}
