/**
 * The generator for serving: rebuilt from its config and named weights with tfjs-core ops only (no
 * tfjs-layers in the worker bundle), with batch norm folded into the convolutions and every
 * transposed convolution rewritten once, at load, into operations the WASM backend runs on XNNPACK:
 *
 * - the first layer (1x1 → 4x4, stride 1, valid) is a matrix product: [N, L] × [L, 4·4·C];
 * - each stride-2, 4x4, "same" transposed convolution is the sub-pixel form: one 3x3 convolution with
 *   4·C output channels (the four output phases) followed by depth-to-space(2).
 *
 * Output equals the layers model in inference mode within float tolerance (tested).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ModelConfig, generatorChannels, generatorInputSize, generatorLayerNames } from './config.ts';

const BN_EPSILON = 1e-5;

export class MissingWeightError extends Error {
  override name = 'MissingWeightError';
}

interface FoldedStage {
  filter: tf.Tensor4D; // [3, 3, Cin, 4·Cout]
  bias: tf.Tensor1D; // [4·Cout]
  relu: boolean;
}

/** Per-channel scale and shift of an inference-mode batch norm. */
function bnAffine(weights: tf.NamedTensorMap, name: string, channels: number) {
  const get = (w: string) => {
    const t = weights[`${name}/${w}`];
    if (!t) throw new MissingWeightError(`weight ${name}/${w} is missing`);
    if (t.size !== channels) throw new MissingWeightError(`weight ${name}/${w} has ${t.size} values, expected ${channels}`);
    return t.dataSync() as Float32Array;
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

function kernel(weights: tf.NamedTensorMap, name: string, shape: number[]): Float32Array {
  const t = weights[`${name}/kernel`];
  if (!t) throw new MissingWeightError(`weight ${name}/kernel is missing`);
  if (t.shape.join() !== shape.join()) {
    throw new MissingWeightError(`weight ${name}/kernel has shape [${t.shape}], expected [${shape}]`);
  }
  return t.dataSync() as Float32Array;
}

/**
 * Along one axis, a stride-2, 4-tap, "same" transposed convolution gives
 *   y[2m]   = x[m-1]·K[3] + x[m]·K[1]
 *   y[2m+1] = x[m]·K[2]   + x[m+1]·K[0]
 * so as a 3-tap correlation over x padded by one (taps at m-1, m, m+1), phase 0 uses K[3], K[1], –
 * and phase 1 uses –, K[2], K[0]. -1 marks a zero tap.
 */
const PHASE_TAPS = [
  [3, 1, -1],
  [-1, 2, 0],
] as const;

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

export class FastGenerator {
  readonly inputSize: number;

  private constructor(
    readonly config: ModelConfig,
    private readonly projectWeight: tf.Tensor2D, // [L, 16·C0]
    private readonly projectBias: tf.Tensor1D, // [16·C0]
    private readonly stages: FoldedStage[],
  ) {
    this.inputSize = generatorInputSize(config);
  }

  /** Folds and rewrites the weights of a layers-format generator. The inputs are not disposed. */
  static fromWeights(config: ModelConfig, weights: tf.NamedTensorMap): FastGenerator {
    const names = generatorLayerNames(config);
    const channels = generatorChannels(config);
    const inputSize = generatorInputSize(config);
    const kept: tf.Tensor[] = [];
    const keep = <T extends tf.Tensor>(t: T): T => {
      kept.push(t);
      return t;
    };
    {
      // Layer 0: K[h, w, c, l] → W[l, (h·4 + w)·C0 + c], BN folded into columns.
      const c0 = channels[0];
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
        const bias = new Float32Array(4 * cout);
        if (bn) for (let p = 0; p < 4; p++) bias.set(bn.shift, p * cout);
        return {
          filter: keep(tf.tensor4d(subPixelKernel(k, cin, cout, bn?.scale), [3, 3, cin, 4 * cout])),
          bias: keep(tf.tensor1d(bias)),
          relu: !isOutput,
        };
      });
      return new FastGenerator(
        config,
        keep(tf.tensor2d(w0, [inputSize, 16 * c0])),
        keep(tf.tensor1d(b0)),
        stages,
      );
    }
  }

  /** [N, latent (+ classes)] → [N, S, S, C] in [-1, 1]. */
  forward(input: tf.Tensor2D): tf.Tensor4D {
    return tf.tidy(() => {
      const n = input.shape[0];
      const c0 = this.projectBias.shape[0] / 16;
      const projected = tf.fused.matMul({ a: input, b: this.projectWeight, bias: this.projectBias, activation: 'relu' });
      let x = tf.reshape(projected, [n, 4, 4, c0]) as tf.Tensor4D;
      for (const stage of this.stages) {
        const y = tf.fused.conv2d({
          x,
          filter: stage.filter,
          strides: 1,
          pad: 'same',
          bias: stage.bias,
          activation: stage.relu ? 'relu' : 'linear',
        });
        x = tf.depthToSpace(y, 2);
      }
      return tf.tanh(x);
    });
  }

  /** Approximate bytes held by the folded weights (for the worker's memory budget). */
  get byteSize(): number {
    return [this.projectWeight, this.projectBias, ...this.stages.flatMap((s) => [s.filter, s.bias])].reduce(
      (sum, t) => sum + t.size * 4,
      0,
    );
  }

  dispose(): void {
    tf.dispose([this.projectWeight, this.projectBias, ...this.stages.flatMap((s) => [s.filter, s.bias])]);
  }
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
