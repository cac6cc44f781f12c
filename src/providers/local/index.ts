// Public surface of the `local` provider for the registry and the CLI.
export { createLocalProvider, defaultThreads, type LocalProvider, type LocalProviderConfig } from './provider.js';
export { pullModel, resolveLocalModelPath, modelsDirFrom, isModelUri, DEFAULT_MODELS_DIR, type PullOptions, type PullProgress } from './model-files.js';
export { createPullProgressPrinter, type ProgressPrinter } from './pull-progress.js';
export { validateGgufFile, GgufValidationError, type GgufSummary } from './gguf-validate.js';
export { createLazyLocalProvider } from './lazy.js';
