/**
 * The generator for serving: rebuilt from its config and named weights with tfjs-core ops only (no
 * tfjs-layers in the worker bundle), with batch norm folded into the convolutions and every
 * transposed convolution rewritten once, at load, into operations the WASM backend runs on XNNPACK:
 *
 * - the first layer (1x1 → 4x4, stride 1, valid) is a matrix product: [N, L] × [L, 4·4·C];
 * - each stride-2, 4x4, "same" transposed convolution is the sub-pixel form: every output pixel
 *   (2m + a, 2l + b) sees a 2x2 window of the input, so each of the four phases (a, b) is a 2x2
 *   convolution with Cout outputs, and the phases interleave. That is 2.25× fewer multiply-adds than
 *   one 3x3 convolution with 4·Cout outputs, and the interleave is two concatenations instead of
 *   the WASM backend's slow per-element DepthToSpace. Narrow layers (the image layer, 1 or 3
 *   channels) run one 2x3 convolution per row phase instead, giving XNNPACK 2·Cout outputs to work on.
 *
 * Where the `GanSubPixelConv` kernel is registered for the active backend (the WASM backend in the
 * worker, `gan sample` and the trainer: core/src/kernels/gemm/sub-pixel-conv.ts), each stage is that
 * one kernel instead: the same phase convolutions on the project's own GEMM, written straight into the
 * upsampled image. Elsewhere (the cpu backend, comparisons) the tfjs ops above run.
 *
 * A class-conditional G (config `generatorConditioning: 'batch-norm'`) folds its batch norms the same
 * way; its per-class gamma and beta cannot be folded into weights shared by a batch of several classes,
 * so each such stage leaves out the ReLU and is followed by a per-sample scale and shift (the class's
 * rows, picked by G's one-hot input) and the ReLU.
 *
 * Output equals the layers model in inference mode within float tolerance (tested).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ModelConfig, generatorChannels, generatorInputSize, generatorLayerNames, hasClassBatchNorm } from './config.ts';
import { SUB_PIXEL_CONV, type SubPixelConvAttrs } from './kernels/gemm/sub-pixel-conv.ts';
import { stridedTap } from './kernels/phase-taps.ts';
import type { WeightArray, WeightArrays } from './weights.ts';

const BN_EPSILON = 1e-5;

export class MissingWeightError extends Error {
  override name = 'MissingWeightError';
}

/** One convolution of a stage: the phases it computes and the padding that aligns its window. */
interface PhaseConv {
  filter: tf.Tensor4D; // [2, 2, Cin, Cout] or, per row phase, [2, 3, Cin, 2·Cout]
  bias: tf.Tensor1D;
  pad: [[number, number], [number, number], [number, number], [number, number]];
}

interface FoldedStage {
  /** Row phase a → its convolutions, whose outputs concatenate (channels) to column phases b = 0, 1. */
  rows: PhaseConv[][];
  cout: number;
  relu: boolean;
  /** A class-conditional G's per-class gamma and beta, applied (then ReLU) after the stage's batch-normed output. */
  classAffine?: ClassAffineWeights;
  /** The stage as the GanSubPixelConv kernel takes it (all but `x`), built once. */
  kernel: { inputs: tf.NamedTensorMap; attrs: SubPixelConvAttrs };
}

/** Below this many output channels, a stage runs one convolution per row phase (see the top). */
const NARROW_STAGE = 16;

/**
 * What a generator is built from: tensors (a training run's weights), or plain arrays as an export's
 * shards decode (weights.ts), which spares the backend a copy of every weight in and back out.
 */
export type GeneratorWeights = tf.NamedTensorMap | WeightArrays;

function valuesOf(weight: tf.Tensor | WeightArray): Float32Array {
  return weight instanceof tf.Tensor ? (weight.dataSync() as Float32Array) : weight.data;
}

/** Per-channel scale and shift of an inference-mode batch norm. */
function bnAffine(weights: GeneratorWeights, name: string, channels: number) {
  const get = (w: string) => {
    const t = weights[`${name}/${w}`];
    if (!t) throw new MissingWeightError(`weight ${name}/${w} is missing`);
    const values = valuesOf(t);
    if (values.length !== channels) throw new MissingWeightError(`weight ${name}/${w} has ${values.length} values, expected ${channels}`);
    return values;
  };
  const [gamma, beta, mean, variance] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map(get);
  const scale = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    scale[c] = gamma[c] / Math.sqrt(variance[c] + BN_EPSILON);
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  return { scale, shift };
}

/** A class-conditional G's per-class gamma and beta after one batch norm, as [K, C] tensors. */
interface ClassAffineWeights {
  gamma: tf.Tensor2D;
  beta: tf.Tensor2D;
}

function classAffineWeights(weights: GeneratorWeights, name: string, classes: number, channels: number): ClassAffineWeights {
  const get = (w: 'gamma' | 'beta') => {
    const t = weights[`${name}/${w}`];
    if (!t) throw new MissingWeightError(`weight ${name}/${w} is missing`);
    if (t.shape.join() !== `${classes},${channels}`)
      throw new MissingWeightError(`weight ${name}/${w} has shape [${t.shape}], expected [${classes},${channels}]`);
    return valuesOf(t);
  };
  const [gamma, beta] = [get('gamma'), get('beta')];
  return { gamma: tf.tensor2d(gamma, [classes, channels]), beta: tf.tensor2d(beta, [classes, channels]) };
}

function kernel(weights: GeneratorWeights, name: string, shape: number[]): Float32Array {
  const t = weights[`${name}/kernel`];
  if (!t) throw new MissingWeightError(`weight ${name}/kernel is missing`);
  if (t.shape.join() !== shape.join()) {
    throw new MissingWeightError(`weight ${name}/kernel has shape [${t.shape}], expected [${shape}]`);
  }
  return valuesOf(t);
}

/**
 * Along one axis, a stride-2, 4-tap, "same" transposed convolution gives
 *   y[2m]   = x[m-1]·K[3] + x[m]·K[1]
 *   y[2m+1] = x[m]·K[2]   + x[m+1]·K[0]
 * so as a 3-tap correlation over x padded by one (taps at m-1, m, m+1), phase 0 uses K[3], K[1], –
 * and phase 1 uses –, K[2], K[0]: phase a's window position u (input m − 1 + a + u) is tap
 * stridedTap(a, 1 − u) (kernels/phase-taps.ts). -1 marks a zero tap.
 */
const PHASE_TAPS = [0, 1].map((a) => [0, 1, 2].map((v) => (v - a === 0 || v - a === 1 ? stridedTap(a, 1 - (v - a)) : -1)));

/**
 * Rewrites a [4, 4, Cout, Cin] stride-2 transposed-convolution kernel (times a per-output-channel
 * scale) as a [3, 3, Cin, 4·Cout] convolution kernel whose output channel (2a + b)·Cout + c is output
 * phase (row a, column b) of channel c: exactly the layout depthToSpace(2) interleaves.
 */
export function subPixelKernel(k: Float32Array, cin: number, cout: number, scale?: Float32Array): Float32Array {
  const out = new Float32Array(9 * cin * 4 * cout);
  for (let a = 0; a < 2; a++)
    for (let b = 0; b < 2; b++)
      for (let u = 0; u < 3; u++)
        for (let v = 0; v < 3; v++) {
          const kh = PHASE_TAPS[a][u];
          const kw = PHASE_TAPS[b][v];
          if (kh < 0 || kw < 0) continue;
          for (let ci = 0; ci < cin; ci++)
            for (let co = 0; co < cout; co++) {
              const src = ((kh * 4 + kw) * cout + co) * cin + ci;
              const dst = ((u * 3 + v) * cin + ci) * 4 * cout + (a * 2 + b) * cout + co;
              out[dst] = k[src] * (scale ? scale[co] : 1);
            }
        }
  return out;
}

/**
 * The filter of output phases (row a, columns `cols`) of a [4, 4, Cout, Cin] stride-2 transposed
 * convolution kernel (times a per-output-channel scale): [2, 3 or 2, Cin, cols.length·Cout]. Window
 * rows are input rows m − 1 + a, m + a; window columns are l − 1 … l + 1 for both column phases,
 * or l − 1 + b, l + b for one.
 */
export function phaseKernel(k: Float32Array, cin: number, cout: number, a: number, cols: number[], scale?: Float32Array): Float32Array {
  const width = cols.length === 1 ? 2 : 3;
  const out = new Float32Array(2 * width * cin * cols.length * cout);
  for (let u = 0; u < 2; u++)
    for (let v = 0; v < width; v++)
      cols.forEach((b, phase) => {
        const kh = PHASE_TAPS[a][u + a];
        const kw = width === 2 ? PHASE_TAPS[b][v + b] : PHASE_TAPS[b][v];
        if (kw < 0) return;
        for (let ci = 0; ci < cin; ci++)
          for (let co = 0; co < cout; co++) {
            const src = ((kh * 4 + kw) * cout + co) * cin + ci;
            const dst = ((u * width + v) * cin + ci) * cols.length * cout + phase * cout + co;
            out[dst] = k[src] * (scale ? scale[co] : 1);
          }
      });
  return out;
}

/** Something that holds backend memory for a generator and goes with it (its version's upscaler). */
export interface GeneratorCompanion {
  readonly byteSize: number;
  dispose(): void;
}

export class FastGenerator {
  readonly inputSize: number;
  private readonly companions = new Set<GeneratorCompanion>();

  private constructor(
    readonly config: ModelConfig,
    private readonly projectWeight: tf.Tensor3D, // [1, L, 16·C0]: the batched form the matmul kernel takes
    private readonly projectBias: tf.Tensor1D, // [16·C0]
    private readonly stages: FoldedStage[],
    /** A class-conditional G's per-class gamma and beta after the first layer. */
    private readonly projectAffine?: ClassAffineWeights,
  ) {
    this.inputSize = generatorInputSize(config);
  }

  /** Folds and rewrites the weights of a layers-format generator. The inputs are not disposed. */
  static fromWeights(config: ModelConfig, weights: GeneratorWeights): FastGenerator {
    const names = generatorLayerNames(config);
    const channels = generatorChannels(config);
    const inputSize = generatorInputSize(config);
    const classBatchNorm = hasClassBatchNorm(config);
    if (classBatchNorm && config.numClasses === 0)
      throw new MissingWeightError('class-conditional batch norm needs classes (numClasses > 0)');
    const kept: tf.Tensor[] = [];
    const keep = <T extends tf.Tensor>(t: T): T => {
      kept.push(t);
      return t;
    };
    const affine = (name: string, channels: number) => {
      if (!classBatchNorm) return undefined;
      const w = classAffineWeights(weights, names.classAffine(name), config.numClasses, channels);
      keep(w.gamma);
      keep(w.beta);
      return w;
    };
    // A weight missing or misshapen part-way must not leave the tensors made before it behind.
    try {
      // Layer 0: K[h, w, c, l] → W[l, (h·4 + w)·C0 + c], BN folded into columns.
      const c0 = channels[0];
      const projectAffine = affine(names.project, c0);
      const k0 = kernel(weights, names.project, [4, 4, c0, inputSize]);
      const bn0 = bnAffine(weights, names.bn(names.project), c0);
      const w0 = new Float32Array(inputSize * 16 * c0);
      const b0 = new Float32Array(16 * c0);
      for (let p = 0; p < 16; p++)
        for (let c = 0; c < c0; c++) {
          b0[p * c0 + c] = bn0.shift[c];
          for (let l = 0; l < inputSize; l++) w0[l * 16 * c0 + p * c0 + c] = k0[(p * c0 + c) * inputSize + l] * bn0.scale[c];
        }
      const layerNames = [...names.hidden, names.output];
      const stages = layerNames.map((name, i): FoldedStage => {
        const cin = channels[i];
        const cout = channels[i + 1];
        const k = kernel(weights, name, [4, 4, cout, cin]);
        const isOutput = name === names.output;
        const bn = isOutput ? undefined : bnAffine(weights, names.bn(name), cout);
        const classAffine = isOutput ? undefined : affine(name, cout);
        // With a class affine the ReLU follows it, outside the convolution.
        const relu = !isOutput && !classAffine;
        const shift = bn?.shift ?? new Float32Array(cout);
        const narrow = cout < NARROW_STAGE;
        const rows = [0, 1].map((a) =>
          (narrow ? [[0, 1]] : [[0], [1]]).map((cols): PhaseConv => {
            const bias = new Float32Array(cols.length * cout);
            cols.forEach((_, i) => {
              bias.set(shift, i * cout);
            });
            const width = cols.length === 1 ? 2 : 3;
            return {
              filter: keep(tf.tensor4d(phaseKernel(k, cin, cout, a, cols, bn?.scale), [2, width, cin, cols.length * cout])),
              bias: keep(tf.tensor1d(bias)),
              pad: [[0, 0], [1 - a, a], cols.length === 1 ? [1 - cols[0], cols[0]] : [1, 1], [0, 0]],
            };
          }),
        );
        return { rows, cout, relu, classAffine, kernel: subPixelConvArgs(rows, cout, relu) };
      });
      return new FastGenerator(config, keep(tf.tensor3d(w0, [1, inputSize, 16 * c0])), keep(tf.tensor1d(b0)), stages, projectAffine);
    } catch (err) {
      tf.dispose(kept);
      throw err;
    }
  }

  /** [N, latent (+ classes)] → [N, S, S, C] in [-1, 1]. */
  forward(input: tf.Tensor2D): tf.Tensor4D {
    return tf.tidy(() => {
      const n = input.shape[0];
      const c0 = this.projectBias.shape[0] / 16;
      // The kernel tf.fused.matMul runs, called as it calls it (operands batched, [1, N, L] × [1, L, 16·C0]),
      // without the op's checks and its reshapes of both operands on every forward.
      const projected = tf
        .engine()
        .runKernel(
          tf._FusedMatMul,
          { a: tf.reshape(input, [1, n, this.inputSize]), b: this.projectWeight, bias: this.projectBias },
          { transposeA: false, transposeB: false, activation: this.projectAffine ? 'linear' : 'relu' },
        ) as tf.Tensor3D;
      // A class-conditional G's one-hot classes, [N, K]: the last K columns of its input.
      const oneHot = this.projectAffine ? tf.slice(input, [0, this.config.latentSize], [n, this.config.numClasses]) : undefined;
      const classAffineRelu = (x: tf.Tensor4D, w: ClassAffineWeights) => {
        const channels = x.shape[3];
        const perSample = (t: tf.Tensor2D) => tf.reshape(tf.matMul(oneHot!, t), [n, 1, 1, channels]);
        return tf.relu(tf.add(tf.mul(x, perSample(w.gamma)), perSample(w.beta))) as tf.Tensor4D;
      };
      let x = tf.reshape(projected, [n, 4, 4, c0]) as tf.Tensor4D;
      if (this.projectAffine) x = classAffineRelu(x, this.projectAffine);
      const oneKernel = tf.getKernel(SUB_PIXEL_CONV, tf.getBackend()) !== undefined;
      for (const stage of this.stages) {
        if (oneKernel) {
          x = subPixelConv(x, stage);
          if (stage.classAffine) x = classAffineRelu(x, stage.classAffine);
          continue;
        }
        const [, h, w] = x.shape;
        const input = x;
        // Row phase a: [N, H, W, 2·Cout] with column phase b at channels b·Cout…, viewed as [N, H, 1, W, 2·Cout].
        const rows = stage.rows.map((convs) => {
          const phases = convs.map((c) =>
            tf.fused.conv2d({
              x: input,
              filter: c.filter,
              strides: 1,
              pad: c.pad,
              bias: c.bias,
              activation: stage.relu ? 'relu' : 'linear',
            }),
          );
          return tf.reshape(phases.length === 1 ? phases[0] : tf.concat(phases, 3), [n, h, 1, w, 2 * stage.cout]);
        });
        // [N, H, 2, W, 2·Cout] is [N, 2H, 2W, Cout] in memory: the phases interleaved.
        x = tf.reshape(tf.concat(rows, 2), [n, 2 * h, 2 * w, stage.cout]) as tf.Tensor4D;
        if (stage.classAffine) x = classAffineRelu(x, stage.classAffine);
      }
      return tf.tanh(x);
    });
  }

  private get tensors(): tf.Tensor[] {
    const affines = [this.projectAffine, ...this.stages.map((s) => s.classAffine)].flatMap((w) => (w ? [w.gamma, w.beta] : []));
    return [
      this.projectWeight,
      this.projectBias,
      ...this.stages.flatMap((s) => s.rows.flat().flatMap((c) => [c.filter, c.bias])),
      ...affines,
    ];
  }

  /** Approximate bytes held by the folded weights and companions (for the worker's memory budget). */
  get byteSize(): number {
    return this.tensors.reduce((sum, t) => sum + t.size * 4, 0) + [...this.companions].reduce((sum, c) => sum + c.byteSize, 0);
  }

  /** Disposes `companion` with this generator, and counts its bytes in byteSize. */
  keepUntilDisposed(companion: GeneratorCompanion): void {
    this.companions.add(companion);
  }

  /** No longer disposes `companion` (nor counts it); disposing it is the caller's. */
  release(companion: GeneratorCompanion): void {
    this.companions.delete(companion);
  }

  get isDisposed(): boolean {
    return this.projectWeight.isDisposed;
  }

  dispose(): void {
    tf.dispose(this.tensors);
    for (const companion of this.companions) companion.dispose();
  }
}

/** One stage's GanSubPixelConv inputs (but `x`) and attributes, from its convolutions. */
function subPixelConvArgs(rows: PhaseConv[][], cout: number, relu: boolean): FoldedStage['kernel'] {
  const convs = rows.flatMap((convs, a) => convs.map((conv, i) => ({ conv, a, b: convs.length === 1 ? 0 : i })));
  const inputs: tf.NamedTensorMap = {};
  convs.forEach(({ conv }, i) => {
    inputs[`filter${i}`] = conv.filter;
    inputs[`bias${i}`] = conv.bias;
  });
  const attrs: SubPixelConvAttrs = {
    cout,
    relu,
    rowPhases: convs.map(({ a }) => a),
    columnPhases: convs.map(({ b }) => b),
    padTops: convs.map(({ conv }) => conv.pad[1][0]),
    padLefts: convs.map(({ conv }) => conv.pad[2][0]),
  };
  return { inputs, attrs };
}

/** One stage as the GanSubPixelConv kernel. */
function subPixelConv(x: tf.Tensor4D, stage: FoldedStage): tf.Tensor4D {
  return tf.engine().runKernel(SUB_PIXEL_CONV, { x, ...stage.kernel.inputs }, stage.kernel.attrs as unknown as tf.NamedAttrMap);
}

/** Builds the generator's input rows: each latent, then the one-hot class on conditional models. */
export function generatorInput(config: ModelConfig, latents: Float32Array[], classes?: number[]): tf.Tensor2D {
  const width = generatorInputSize(config);
  const data = new Float32Array(latents.length * width);
  latents.forEach((z, i) => {
    data.set(z, i * width);
    if (config.numClasses > 0) {
      const c = classes?.[i] ?? 0;
      data[i * width + config.latentSize + c] = 1;
    }
  });
  return tf.tensor2d(data, [latents.length, width]);
}
