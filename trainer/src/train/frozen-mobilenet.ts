/**
 * A frozen MobileNetV2, cut at chosen layers, for the vision-aided discriminator (vision-aided.ts):
 * the features a network pretrained on photos sees (palettes, flat against shaded fills, outline
 * weight) with small trainable heads on top.
 *
 * The weights are nsfwjs's MobileNetV2: ImageNet-initialised, fine-tuned by the package's authors on a
 * 5-class image-content task (evaluate/imagenet.ts says more, and how the package is found, installed
 * into the cache on first use). The network is rebuilt here from the
 * package's Keras topology rather than loaded as a tfjs-layers model, for the cost of its gradient:
 *
 * - each batch norm is folded into the convolution before it (inference statistics: the network
 *   never trains), so a layer is one convolution plus a bias;
 * - layers' fused convolutions compute their filter gradient whenever they are differentiated, even
 *   for weights nothing trains; plain convolutions let the gradient flow to the image only;
 * - layers' capped ReLU is a clip, whose gradient costs three comparison kernels; Relu6 costs one.
 *
 * On this 2-core machine that took a batch of 64 at 64 px through the network to block 12 and back
 * from ~1.0 s (measured once, as the package's layers model) to ~0.5 s (bench/vision-aided.ts). The
 * forward without a gradient (D's step) uses fused convolutions with the bias and Relu6 in the kernel.
 *
 * Only what MobileNetV2 is made of is understood: InputLayer, ZeroPadding2D, Conv2D and
 * DepthwiseConv2D (linear, undilated, without bias, multiplier 1), BatchNormalization after a
 * convolution, ReLU (capped or not) and Add; other layers before the cut are refused with a
 * FrozenNetworkError. A batch norm or ReLU is folded into the convolution before it, which assumes
 * that convolution feeds nothing else (true of MobileNetV2; not checked).
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { type LocateOptions, NSFWJS_PACKAGE, locateNsfwjs, ownArrayBuffer, readPackagedMobileNet } from '../evaluate/imagenet.ts';

/**
 * How images become features here (the fold, the input scale, the resize); part of the network's id,
 * so a run whose heads learnt on one way refuses to resume on another. Raise it when any of them changes.
 */
const FEATURES_FORMAT = 1;

/** The package's topology or weights are not what this reader understands. */
export class FrozenNetworkError extends Error {
  override name = 'FrozenNetworkError';
}

interface KerasLayer {
  class_name: string;
  config: Record<string, unknown> & { name: string };
  inbound_nodes: [string, number, number, object][][];
}

interface PackagedModel {
  modelTopology: { model_config: { config: { layers: KerasLayer[] } } };
  weightsManifest: tf.io.WeightsManifestConfig;
}

/** One step of the folded network. */
type Node =
  | { kind: 'input'; name: string }
  | { kind: 'pad'; name: string; input: string; padding: [[number, number], [number, number]] }
  | {
      kind: 'conv';
      name: string;
      input: string;
      depthwise: boolean;
      strides: [number, number];
      padding: 'same' | 'valid';
      filter: tf.Tensor4D;
      bias?: tf.Tensor1D;
      relu6: boolean;
    }
  | { kind: 'relu'; name: string; input: string; cap?: number }
  | { kind: 'add'; name: string; inputs: string[] };

export interface FrozenFeatureNetwork {
  /** What the features are: package network, cut layers and input size. */
  id: string;
  /** sha256 prefix of the weights the kept layers use: runs compare only when they agree. */
  version: string;
  source: string;
  inputSize: number;
  /** The cut layers, in order, with their channels and their side at inputSize. */
  outputs: { layer: string; channels: number; size: number }[];
  /**
   * Features at each cut of images [N, S, S, C] in [-1, 1] (C of 1 is tiled to RGB), bilinearly
   * resized to inputSize and scaled to the package's [0, 1]. `differentiable` keeps to kernels whose
   * gradient reaches the images only (G's step); false takes the fused forward (D's step).
   */
  apply(images: tf.Tensor4D, differentiable: boolean): tf.Tensor4D[];
  /** Every tensor the network holds (tests check none ever changes). */
  tensors(): tf.Tensor[];
  dispose(): void;
}

const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [Number(v[0]), Number(v[1])] : [Number(v), Number(v)]);

function inputOf(layer: KerasLayer): string {
  const inbound = layer.inbound_nodes[0];
  if (inbound?.length !== 1) throw new FrozenNetworkError(`${layer.config.name} does not have exactly one input`);
  return inbound[0][0];
}

/** Builds the folded nodes up to and including every layer in `cut`. */
function foldLayers(layers: KerasLayer[], weight: (name: string) => Float32Array, cut: readonly string[]): Node[] {
  const lastIndex = Math.max(
    ...cut.map((c) => {
      const i = layers.findIndex((l) => l.config.name === c);
      if (i < 0) throw new FrozenNetworkError(`MobileNetV2 has no layer ${c}`);
      return i;
    }),
  );
  const nodes = new Map<string, Node>();
  /** A batch norm or ReLU folded into a convolution answers to the convolution's node. */
  const alias = new Map<string, string>();
  const resolve = (name: string) => alias.get(name) ?? name;
  try {
    readLayers(layers.slice(0, lastIndex + 1), weight, cut, nodes, alias, resolve);
    for (const c of cut) if (alias.has(c)) throw new FrozenNetworkError(`${c} is folded into ${alias.get(c)}: cut at that layer instead`);
  } catch (e) {
    tf.dispose(convTensors([...nodes.values()]));
    throw e;
  }
  return [...nodes.values()];
}

/** The filters and biases the nodes hold. */
const convTensors = (nodes: Node[]) => nodes.flatMap((n) => (n.kind === 'conv' ? [n.filter, ...(n.bias ? [n.bias] : [])] : []));

function readLayers(
  layers: KerasLayer[],
  weight: (name: string) => Float32Array,
  cut: readonly string[],
  nodes: Map<string, Node>,
  alias: Map<string, string>,
  resolve: (name: string) => string,
): void {
  for (const layer of layers) {
    const { name } = layer.config;
    switch (layer.class_name) {
      case 'InputLayer':
        nodes.set(name, { kind: 'input', name });
        break;
      case 'ZeroPadding2D': {
        const [[top, bottom], [left, right]] = layer.config.padding as [[number, number], [number, number]];
        nodes.set(name, {
          kind: 'pad',
          name,
          input: resolve(inputOf(layer)),
          padding: [
            [top, bottom],
            [left, right],
          ],
        });
        break;
      }
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const depthwise = layer.class_name === 'DepthwiseConv2D';
        if (depthwise && (layer.config.depth_multiplier ?? 1) !== 1) throw new FrozenNetworkError(`${name}: depth multiplier is not 1`);
        if (layer.config.use_bias) throw new FrozenNetworkError(`${name}: convolutions with a bias are not read`);
        if ((layer.config.activation ?? 'linear') !== 'linear') throw new FrozenNetworkError(`${name}: a fused activation is not read`);
        if (pair(layer.config.dilation_rate ?? 1).some((d) => d !== 1)) throw new FrozenNetworkError(`${name}: dilation is not read`);
        const kernel = weight(`${name}/${depthwise ? 'depthwise_kernel' : 'kernel'}`);
        const [kh, kw] = pair(layer.config.kernel_size);
        const channels = depthwise ? null : Number(layer.config.filters);
        const inChannels = kernel.length / (kh * kw * (channels ?? 1));
        nodes.set(name, {
          kind: 'conv',
          name,
          input: resolve(inputOf(layer)),
          depthwise,
          strides: pair(layer.config.strides),
          padding: layer.config.padding as 'same' | 'valid',
          filter: tf.tensor4d(kernel, [kh, kw, inChannels, channels ?? 1]),
          relu6: false,
        });
        break;
      }
      case 'BatchNormalization': {
        const conv = nodes.get(resolve(inputOf(layer)));
        if (conv?.kind !== 'conv' || conv.bias) throw new FrozenNetworkError(`${name} does not follow a convolution`);
        const epsilon = Number(layer.config.epsilon ?? 1e-3);
        const [gamma, beta, mean, variance] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((w) => weight(`${name}/${w}`));
        const scale = gamma.map((g, c) => g / Math.sqrt(variance[c] + epsilon));
        const filter = conv.filter.dataSync() as Float32Array;
        // The scaled axis: output channels (last) of a convolution, input channels of a depthwise one (multiplier 1: also last).
        const scaled = filter.map((v, i) => v * scale[i % scale.length]);
        const shape = conv.filter.shape;
        conv.filter.dispose();
        conv.filter = tf.tensor4d(scaled, shape);
        conv.bias = tf.tensor1d(beta.map((b, c) => b - mean[c] * scale[c]));
        alias.set(name, conv.name);
        break;
      }
      case 'ReLU': {
        const input = resolve(inputOf(layer));
        const cap = layer.config.max_value === undefined || layer.config.max_value === null ? undefined : Number(layer.config.max_value);
        const conv = nodes.get(input);
        if (conv?.kind === 'conv' && cap === 6 && !conv.relu6 && !cut.includes(input)) {
          conv.relu6 = true;
          alias.set(name, conv.name);
        } else nodes.set(name, { kind: 'relu', name, input, cap });
        break;
      }
      case 'Add':
        nodes.set(name, { kind: 'add', name, inputs: layer.inbound_nodes[0].map((n) => resolve(n[0])) });
        break;
      default:
        throw new FrozenNetworkError(`${name}: layer ${layer.class_name} is not read`);
    }
  }
}

function run(nodes: Node[], input: tf.Tensor4D, cut: readonly string[], differentiable: boolean): tf.Tensor4D[] {
  const values = new Map<string, tf.Tensor4D>();
  const get = (name: string) => {
    const v = values.get(name);
    if (!v) throw new FrozenNetworkError(`${name} has no value yet`);
    return v;
  };
  for (const node of nodes) {
    let y: tf.Tensor4D;
    switch (node.kind) {
      case 'input':
        y = input;
        break;
      case 'pad':
        y = tf.pad(get(node.input), [[0, 0], ...node.padding, [0, 0]]);
        break;
      case 'conv': {
        const x = get(node.input);
        if (!differentiable) {
          const args = { x, filter: node.filter, strides: node.strides, pad: node.padding, bias: node.bias };
          const activation = node.relu6 ? ('relu6' as const) : ('linear' as const);
          y = node.depthwise ? tf.fused.depthwiseConv2d({ ...args, activation }) : tf.fused.conv2d({ ...args, activation });
          break;
        }
        y = node.depthwise
          ? tf.depthwiseConv2d(x, node.filter, node.strides, node.padding)
          : tf.conv2d(x, node.filter, node.strides, node.padding);
        if (node.bias) y = tf.add(y, node.bias);
        if (node.relu6) y = tf.relu6(y);
        break;
      }
      case 'relu':
        y = node.cap === 6 ? tf.relu6(get(node.input)) : tf.relu(get(node.input));
        if (node.cap !== undefined && node.cap !== 6) y = tf.minimum(y, node.cap);
        break;
      case 'add':
        y = tf.addN(node.inputs.map(get));
        break;
    }
    values.set(node.name, y);
  }
  return cut.map(get);
}

export interface FrozenNetworkOptions extends LocateOptions {
  /** Layers whose outputs are the features, in order (default: block_5_add at stride 8, block_12_add at 16). */
  cut?: readonly string[];
  /** Side the images are resized to (default 64). */
  inputSize?: number;
}

/** Reads MobileNetV2 from the nsfwjs package (no network once it is installed) and folds it up to the cut. */
export async function loadFrozenMobileNet(options: FrozenNetworkOptions): Promise<FrozenFeatureNetwork> {
  const cut = options.cut ?? ['block_5_add', 'block_12_add'];
  const inputSize = options.inputSize ?? 64;
  const { modelJson, weights: bytes, packageVersion } = await readPackagedMobileNet(await locateNsfwjs(options));
  const model = modelJson as PackagedModel;
  const decoded = tf.io.decodeWeights(
    ownArrayBuffer(bytes),
    model.weightsManifest.flatMap((g) => g.weights),
  );
  const hash = createHash('sha256');
  const weight = (name: string) => {
    const t = decoded[name];
    if (!t) throw new FrozenNetworkError(`the package has no weight ${name}`);
    const data = t.dataSync() as Float32Array;
    hash.update(name).update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return data;
  };
  let nodes: Node[];
  try {
    nodes = foldLayers(model.modelTopology.model_config.config.layers, weight, cut);
  } finally {
    tf.dispose(Object.values(decoded));
  }
  const version = hash.digest('hex').slice(0, 12);
  const tensors = () => convTensors(nodes);
  const prepare = (images: tf.Tensor4D) => {
    let x = images.shape[3] === 1 ? (tf.tile(images, [1, 1, 1, 3]) as tf.Tensor4D) : images;
    x = tf.div(tf.add(x, 1), 2) as tf.Tensor4D; // the package's own input scale, [0, 1]
    return x.shape[1] === inputSize ? x : tf.image.resizeBilinear(x, [inputSize, inputSize], true);
  };
  const probe = tf.tidy(() => run(nodes, tf.zeros([1, inputSize, inputSize, 3]) as tf.Tensor4D, cut, false));
  const outputs = cut.map((layer, i) => ({ layer, channels: probe[i].shape[3], size: probe[i].shape[1] }));
  tf.dispose(probe);
  return {
    id: `${NSFWJS_PACKAGE}-mobilenet_v2-v${FEATURES_FORMAT}-${cut.join('+')}-${inputSize}`,
    version,
    source: `${NSFWJS_PACKAGE}@${packageVersion} MobileNetV2 (ImageNet-initialised, fine-tuned by nsfwjs), frozen, cut at ${cut.join(', ')}`,
    inputSize,
    outputs,
    apply: (images, differentiable) => tf.tidy(() => run(nodes, prepare(images), cut, differentiable)),
    tensors,
    dispose: () => tf.dispose(tensors()),
  };
}
