export * from './config.ts';
export * from './prng.ts';
export * from './manifest.ts';
export * from './weights.ts';
export * from './inference.ts';
export * from './image.ts';
export * from './export-format.ts';
export { registerWasmKernels } from './kernels/index.ts';
