/** Hybrid transform (see docs/design.md): ts-jest type-checks our .ts, @swc/jest turns Nest 12's ESM .js into CJS. */

/**
 * Suites that load no `@nestjs/*` package (framework-free cores against real PostgreSQL/Redis, the
 * packaging and docs tooling, the test-command tooling). Their outcome cannot depend on the installed
 * NestJS major, so CI's second pass on NestJS 11 (`NEST_MAJOR=11`, see .ci/run) leaves them out and
 * says so; `npm test` runs them always.
 */
const NEST_FREE_SUITES = [
  '<rootDir>/libs/pool/src/pool.property(-clock)?.spec.ts',
  '<rootDir>/libs/lazy/src/redis/',
  '<rootDir>/scripts/',
  '<rootDir>/test/packages\\.',
  '<rootDir>/test/docs-check.spec.ts',
  '<rootDir>/test/redis-tier',
  '<rootDir>/test/lazy-shared.property.spec.ts',
  '<rootDir>/test/pool.health-soak.spec.ts',
  '<rootDir>/test/pool.pg-defects.spec.ts',
  '<rootDir>/test/services.spec.ts',
];
const nestFreeIgnored = process.env.NEST_MAJOR === '11' ? NEST_FREE_SUITES : [];
if (nestFreeIgnored.length && !process.env.JEST_WORKER_ID) {
  console.log(
    `NestJS 11 pass: leaving out the suites that load no NestJS (${NEST_FREE_SUITES.length} patterns, jest.config.js)`,
  );
}

const common = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
    '^.+\\.m?js$': ['@swc/jest', { module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: [
    '/node_modules/(?!(@nestjs|lru-cache|uuid|file-type|strtok3|token-types|peek-readable|load-esm)/)',
  ],
  moduleNameMapper: {
    '^@reservoir/metrics(|/.*)$': '<rootDir>/libs/metrics/src$1',
    '^@reservoir/core(|/.*)$': '<rootDir>/libs/core/src$1',
    '^@reservoir/pool(|/.*)$': '<rootDir>/libs/pool/src$1',
    '^@reservoir/tenant(|/.*)$': '<rootDir>/libs/tenant/src$1',
    '^@reservoir/lazy(|/.*)$': '<rootDir>/libs/lazy/src$1',
  },
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  // Consumer apps (test/consumers/) run outside the workspace through npm run test:consumers.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/consumers/', ...nestFreeIgnored],
  // `npm run pack` writes package manifests with the libs' names under dist/, and the consumer apps
  // have manifests of their own: the haste map must see neither.
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/test/consumers/'],
};
module.exports = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      rootDir: __dirname,
      testMatch: [
        '<rootDir>/libs/**/*.spec.ts',
        '<rootDir>/apps/**/*.spec.ts',
        '<rootDir>/scripts/**/*.spec.ts',
      ],
    },
    {
      ...common,
      displayName: 'integration',
      rootDir: __dirname,
      testMatch: ['<rootDir>/test/**/*.spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'],
      // Runs only when at least one integration test is selected: installs missing system tools
      // (chromium, promtool) or fails at once saying how, and builds the demo when dist is stale.
      globalSetup: '<rootDir>/test/global-setup.ts',
      globalTeardown: '<rootDir>/test/global-teardown.ts',
    },
  ],
};
