/**
 * Spectral normalisation (Miyato et al. 2018) for the discriminator's convolutions: the layer convolves
 * with W / σ(W), where σ(W) is the largest singular value of the kernel viewed as a
 * [kh·kw·Cin, Cout] matrix, then adds an unnormalised bias. The kernel matrix then has norm 1, which
 * bounds the layer's Lipschitz constant up to a small factor (exactly for the one-window score layer;
 * about kernel / stride = 2 for the strided ones), as in the paper, so D cannot sharpen its judgement
 * by growing its weights. The bias is D's only offset once its batch norms are gone.
 *
 * σ is estimated as in the paper and PyTorch's `spectral_norm`: one power iteration per forward pass
 * in training mode, from a persistent vector u (a non-trainable weight, `<layer>/sn_u`, saved and
 * restored with the checkpoint like batch-norm statistics):
 *   v = normalise(W u),  u ← normalise(Wᵀ v),  σ = vᵀ W u
 * u and v are constants to the gradient; σ is not, so D's gradient includes the normalisation's.
 * In inference mode u is read, not moved. `settle` runs more iterations at once, for a u that does not
 * match its kernel yet (a new run, or kernels copied from another run).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** Avoids a division by zero for an all-zero kernel, as PyTorch's eps does. */
const EPSILON = 1e-12;

export interface SpectralNormConv2DArgs {
  name: string;
  filters: number;
  kernelSize: number;
  strides: number;
  padding: 'same' | 'valid';
  kernelInitializer: ReturnType<typeof tfl.initializers.randomNormal>;
  /** Seed of u's initial direction. */
  seed: number;
}

/** The identity with a zero gradient (tfjs-core has no stop_gradient). */
const stopGradient = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
  value: tf.clone(args[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as <T extends tf.Tensor>(x: T) => T;

const normalise = (x: tf.Tensor1D) => tf.div(x, tf.add(tf.norm(x), EPSILON)) as tf.Tensor1D;

/** A bias-free Conv2D whose kernel is divided by its spectral norm (see the top of the file). */
export class SpectralNormConv2D extends tfl.layers.Layer {
  static className = 'SpectralNormConv2D';
  private readonly args: SpectralNormConv2DArgs;
  private kernel?: tfl.LayerVariable;
  private bias?: tfl.LayerVariable;
  private u?: tfl.LayerVariable;

  constructor(args: SpectralNormConv2DArgs) {
    super({ name: args.name });
    this.args = args;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const cin = shape[shape.length - 1] as number;
    const { kernelSize: k, filters } = this.args;
    this.kernel = this.addWeight('kernel', [k, k, cin, filters], 'float32', this.args.kernelInitializer);
    this.bias = this.addWeight('bias', [filters], 'float32', tfl.initializers.zeros());
    this.u = this.addWeight(
      'sn_u',
      [filters],
      'float32',
      tfl.initializers.randomNormal({ mean: 0, stddev: 1, seed: this.args.seed }),
      undefined,
      false,
    );
    this.u.write(tf.tidy(() => normalise(this.u!.read() as tf.Tensor1D)));
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [n, h, w] = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const { kernelSize: k, strides: s, padding, filters } = this.args;
    const out = (d: number | null) => (d === null ? null : padding === 'same' ? Math.ceil(d / s) : Math.floor((d - k) / s) + 1);
    return [n, out(h), out(w), filters];
  }

  /** v = normalise(W u) and, when `step`, u's next value normalise(Wᵀ v), for a [kh·kw·Cin, Cout] kernel matrix W. */
  private powerIteration(matrix: tf.Tensor2D, u: tf.Tensor1D): { u: tf.Tensor1D; v: tf.Tensor1D } {
    const v = normalise(tf.reshape(tf.matMul(matrix, tf.reshape(u, [-1, 1])), [-1]) as tf.Tensor1D);
    return { v, u: normalise(tf.reshape(tf.matMul(tf.reshape(v, [1, -1]), matrix), [-1]) as tf.Tensor1D) };
  }

  /** Runs `iterations` power iterations on u at once (PyTorch runs 15 when it sets the normalisation up). */
  settle(iterations = 15): void {
    tf.tidy(() => {
      const matrix = tf.reshape(this.kernel!.read(), [-1, this.args.filters]) as tf.Tensor2D;
      let u = this.u!.read() as tf.Tensor1D;
      for (let i = 0; i < iterations; i++) u = this.powerIteration(matrix, u).u;
      this.u!.write(u);
    });
  }

  /** The kernel divided by σ; in training mode u takes one power-iteration step first. */
  normalisedKernel(training: boolean): tf.Tensor4D {
    const kernel = this.kernel!.read() as tf.Tensor4D;
    const matrix = tf.reshape(kernel, [-1, this.args.filters]) as tf.Tensor2D; // [kh·kw·Cin, Cout]
    const held = stopGradient(matrix);
    let u = this.u!.read() as tf.Tensor1D;
    let v: tf.Tensor1D;
    if (training) {
      ({ u, v } = this.powerIteration(held, u));
      this.u!.write(u);
    } else v = this.powerIteration(held, u).v;
    const sigma = tf.sum(tf.mul(tf.reshape(v, [-1, 1]), tf.mul(matrix, tf.reshape(u, [1, -1]))));
    return tf.div(kernel, sigma) as tf.Tensor4D;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const y = tf.conv2d(x, this.normalisedKernel(kwargs.training === true), this.args.strides, this.args.padding);
      return tf.add(y, this.bias!.read());
    });
  }
}

/** Settles every spectrally normalised layer of `model` (see SpectralNormConv2D.settle). */
export function settleSpectralNorms(model: tfl.LayersModel, iterations = 15): void {
  for (const layer of model.layers) if (layer instanceof SpectralNormConv2D) layer.settle(iterations);
}
