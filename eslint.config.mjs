import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'dist-*/**', 'node_modules/**', 'test/.cache/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Each library has one front door (its src/index.ts, as @triage/<lib>): no reaching into another's files.
    files: ['apps/**/*.ts', 'libs/**/*.ts', 'bench/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^(\\.\\./)+(libs/)?[a-z][a-z-]*/src(/|$)', message: 'import another library through its front door: @triage/<lib>' },
            { regex: '^@triage/[^/]+/', message: 'import @triage/<lib> itself, not a file inside it' },
          ],
        },
      ],
    },
  },
  {
    // The records beside a core (meta, status, facts, report) have one reader and writer, libs/cores,
    // with one torn-read rule; nobody else builds their keys.
    files: ['apps/**/*.ts', 'libs/**/*.ts', 'bench/**/*.ts'],
    ignores: ['libs/cores/**', 'libs/storage/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='keys'][property.name=/^(coreMeta|coreStatus|coreFacts|report|problemWorkflow)$/]",
          message: 'read and write core records through CoreRecords (@triage/cores)',
        },
        {
          selector: "MemberExpression[object.property.name='constants'][property.name='signals'], MemberExpression[object.name='constants'][property.name='signals']",
          message: "a core's signals are Linux's: name them with signalName/SIG from @triage/report, not the host's os.constants",
        },
      ],
    },
  },
  {
    // A library's index.ts is its front door: re-exports only, no code of its own.
    files: ['libs/*/src/index.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: 'Program > :not(ExportNamedDeclaration[source], ExportAllDeclaration)', message: 'index.ts only re-exports' },
      ],
    },
  },
);
