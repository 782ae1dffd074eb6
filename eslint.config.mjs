// ESLint flat config: typescript-eslint's type-aware recommended rules over
// every TypeScript file of the project (one tsconfig, found by the project
// service), tuned below where a rule fights a deliberate pattern. Formatting
// is prettier's job (`npm run format`), so no stylistic rules here.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'coverage/',
      'docs/api/',
      'node_modules/',
      'scratch/',
      '.scratch/',
      'demo-results/',
      'bench/results/',
      // Type tests: compiled by `npm run test:types` against dist/, never run.
      'spec/types/',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Node's hook signatures name parameters we do not use (`_encoding`).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // `void promise` is how we mark a promise deliberately left to run
      // (a producer loop, a flush awaited later through its own handler).
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: true }],
      // An async function handed where a void callback is expected is a
      // stream idiom (`onBatch: async (b) => ...`, event handlers that await);
      // the library itself awaits what `onBatch` returns. Misused promises
      // in conditions are still errors.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      // Node's stream API hands methods around as callbacks by design
      // (`stream.end`, `callback` parameters), and the classes bind their own.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['spec/**/*.ts', 'stress/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // docs/semantics.md 10 is about what happens when a consumer throws or rejects with
      // a non-Error: the specs and stress rigs do exactly that on purpose.
      '@typescript-eslint/only-throw-error': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      // mocha bodies and callbacks are `async` so they share one shape
      // whether or not they await; a missing await is caught by a failing spec.
      '@typescript-eslint/require-await': 'off',
      // chai's `expect(x).to.be.true` style reads as an unused expression.
      '@typescript-eslint/no-unused-expressions': 'off',
      // Specs capture `this` inside callbacks to check what they were called on.
      '@typescript-eslint/no-this-alias': 'off',
    },
  },
  {
    // The bench loads compiled copies of lib/ (its own build, `--try-lib`
    // copies) from paths chosen at run time: a plain `require()`.
    files: ['bench/support/lib.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Config and script files outside the tsconfig: plain JavaScript rules.
    files: ['**/*.{js,mjs,cjs}'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    // Plain .js files here are CommonJS (package.json has no "type"), written
    // so any Node version runs them without a compiler.
    files: ['**/*.{js,cjs}'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
