import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  // The package's own import specifiers (examples/ uses them, as a consumer would) resolve to the
  // sources, like the "paths" of tsconfig.json; the published mapping is package.json "exports".
  resolve: {
    alias: [
      { find: /^essay-lifecycle-statecharts$/, replacement: root('./index.ts') },
      { find: /^essay-lifecycle-statecharts\/queue\/nats$/, replacement: root('./adapters/queue/nats.ts') },
      { find: /^essay-lifecycle-statecharts\/(sqlite|memory|http|postgres|visual|queue)$/, replacement: root('./adapters/$1/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'forks',
  },
});
