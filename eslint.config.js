// ESLint (flat config): type-aware typescript-eslint over the TypeScript, plain @eslint/js over the
// few JavaScript files. Formatting is prettier's job (.prettierrc.json); nothing here is about style.
// `npm run lint`; `npm run lint -- --fix` applies the safe fixes.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

// The JavaScript files are in no tsconfig, so no-undef needs their globals (no `globals` package here).
const readonly = (names) => Object.fromEntries(names.split(/\s+/).map((n) => [n, 'readonly']));
const nodeGlobals = readonly('process console Buffer URL URLSearchParams setTimeout clearTimeout setInterval clearInterval setImmediate queueMicrotask AbortController fetch structuredClone');
const browserGlobals = readonly(
  [
    'window document location history navigator localStorage sessionStorage console fetch Headers Request Response URL URLSearchParams AbortController',
    'TextDecoder TextEncoder setTimeout clearTimeout setInterval clearInterval requestAnimationFrame cancelAnimationFrame ResizeObserver Event HTMLElement',
    'matchMedia getComputedStyle Intl confirm alert TextDecoderStream addEventListener removeEventListener',
  ].join(' '),
);
const testFiles = ['test/**/*.ts', '**/*.test.ts', 'packages/client/src/test-support/**/*.ts'];

export default defineConfig(
  // Build output, local data, and recorded bench profiles are not source.
  globalIgnores(['**/dist/', 'data/', 'bench/profiles/', 'test-artifacts/', 'scratch/', 'coverage/']),
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },

  // TypeScript: src/, test/, bench/ (tsconfig.json) and packages/client/src (packages/client/tsconfig.json).
  // projectService picks the nearest tsconfig for each file, so both programs are used as tsc builds them.
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's test()/it()/describe() return promises the runner itself tracks; every other floating promise is an error.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] }],
      // `const { secret: _s, ...rest } = x` is how this code drops fields; `_`-prefixed names are deliberate.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Fastify plugins and handlers are async by contract (and some interface methods), with or without an await: 17/17 hits were that.
      '@typescript-eslint/require-await': 'off',
      // GGUF parsing compares raw u32s from the file with the numeric GgufValueType enum on purpose: 8/8 hits were that.
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
      // Objects here are closures with method shorthand that never use `this`: 3/3 hits were destructured closures.
      '@typescript-eslint/unbound-method': 'off',
      // Rejecting with an AbortSignal's reason (typed any) is the standard abort pattern; literals are still caught.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
    },
  },
  {
    // Kysely's documented migration signature: migrations must not depend on today's schema type.
    files: ['src/db/migrations.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Tests read JSON bodies and SDK payloads as any and assert on them; typing every fixture is not worth it.
    files: testFiles,
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Bench scripts read JSON from the wire and from package.json files, untyped by nature.
    files: ['bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },

  // Plain JavaScript run by node: bin/, test/run-all.mjs, this file.
  {
    files: ['**/*.js', '**/*.mjs'],
    ignores: ['web/**'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'module', globals: nodeGlobals },
  },

  // The dashboard: browser ES modules served as they are (no build, no types).
  {
    files: ['web/**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'module', globals: browserGlobals },
  },
);
