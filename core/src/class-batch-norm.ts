/**
 * The class-conditional half of a `batch-norm`-conditioned generator's batch norms (config.ts,
 * GENERATOR_CONDITIONINGS): after a plain batch norm, each sample's features are scaled and shifted
 * by the gamma and beta of its class, rows of two [K, C] weights that start at 1 and 0.
 * The class is read from G's own input, whose last K values are the one-hot class, so the layer
 * needs nothing the generator's callers do not already give it.
 *
 * Trained and exported as a tfjs-layers layer; served as a per-sample affine after the batch norm is
 * folded into the convolution (inference.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export interface ClassAffineArgs {
  name: string;
  latentSize: number;
  numClasses: number;
}

/** True for a ClassAffine's weight (`<layer>_bn_class/gamma`, `…/beta`): config.ts names them. */
export function isClassAffineWeight(name: string): boolean {
  return /_bn_class\/(gamma|beta)$/.test(name);
}

/** [features [N, H, W, C], generator input [N, L + K]] → features · gamma[class] + beta[class]. */
export class ClassAffine extends tfl.layers.Layer {
  static className = 'ClassAffine';
  private readonly args: ClassAffineArgs;
  private gamma?: tfl.LayerVariable;
  private beta?: tfl.LayerVariable;

  constructor(args: ClassAffineArgs) {
    super({ name: args.name });
    if (!(args.numClasses > 0)) throw new RangeError('a class affine needs classes (numClasses > 0)');
    this.args = args;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const features = (inputShape as tfl.Shape[])[0];
    const channels = features[features.length - 1] as number;
    this.gamma = this.addWeight('gamma', [this.args.numClasses, channels], 'float32', tfl.initializers.ones());
    this.beta = this.addWeight('beta', [this.args.numClasses, channels], 'float32', tfl.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    return (inputShape as tfl.Shape[])[0];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [x, generatorInput] = inputs as tf.Tensor[];
      const n = x.shape[0] as number;
      const channels = x.shape[x.shape.length - 1] as number;
      const oneHot = tf.slice(generatorInput as tf.Tensor2D, [0, this.args.latentSize], [n, this.args.numClasses]);
      const perSample = (w: tfl.LayerVariable) => tf.reshape(tf.matMul(oneHot, w.read() as tf.Tensor2D), [n, 1, 1, channels]);
      return tf.add(tf.mul(x, perSample(this.gamma!)), perSample(this.beta!));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), latentSize: this.args.latentSize, numClasses: this.args.numClasses };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls({ name: config.name, latentSize: config.latentSize, numClasses: config.numClasses });
  }
}
tf.serialization.registerClass(ClassAffine);
