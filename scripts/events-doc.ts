/** Writes docs/events.md from the event declarations (`npm run docs:events`). */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderEventsCatalogue } from './lib/events-catalogue.js';

const target = fileURLToPath(new URL('../docs/events.md', import.meta.url));
writeFileSync(target, renderEventsCatalogue());
process.stdout.write(`wrote ${target}\n`);
