import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from '@gan/core/config';
import { Sfc32 } from '@gan/core/prng';
import {
  ClassHeadWithoutProjectionError,
  type DiscriminatorConditioning,
  FakeClassWithoutClassHeadError,
  buildDiscriminator,
  buildGenerator,
} from '@gan/core/model';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  ARTICLE_ADAM,
  createAdam,
  discriminatorInputTensor,
  discriminatorInputs,
  discriminatorStep,
  generatorInputTensor,
  generatorStep,
  type GanModels,
} from '@gan/trainer/train/step';
import { DIFF_AUGMENT_POLICY, drawAugmentation } from '@gan/trainer/train/augment';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const tiny: ModelConfig = { imageSize: 16, channels: 1, latentSize: 8, generatorWidth: 4, discriminatorWidth: 4, numClasses: 3 };
const N = 4;

function setup(config = tiny, conditioning: DiscriminatorConditioning = 'planes') {
  const models: GanModels = {
    config,
    generator: buildGenerator(config, 1),
    discriminator: buildDiscriminator(config, 1, conditioning),
    conditioning,
  };
  const rng = Sfc32.fromSeed('step-test');
  const noise = () => rng.fillNormal(new Float32Array(N * config.latentSize));
  const labels = () => Array.from({ length: N }, () => rng.nextInt(Math.max(1, config.numClasses)));
  const real = tf.tidy(() =>
    tf.tanh(tf.randomNormal([N, config.imageSize, config.imageSize, config.channels], 0, 1, 'float32', 7)),
  ) as tf.Tensor4D;
  return { models, noise, labels, real, dOpt: createAdam(ARTICLE_ADAM), gOpt: createAdam(ARTICLE_ADAM) };
}

const snapshot = (model: tfl.LayersModel) => model.weights.map((w) => Array.from(w.read().dataSync()));
const changed = (before: number[][], model: tfl.LayersModel) =>
  model.weights
    .filter((w, i) =>
      w
        .read()
        .dataSync()
        .some((v, k) => v !== before[i][k]),
    )
    .map((w) => w.originalName);

/** Two more iterations after a first one (which creates Adam's moment variables) leave the tensor count as it was. */
async function expectNoLeakedTensors(iterate: () => Promise<void>) {
  await iterate();
  const before = tf.memory().numTensors;
  await iterate();
  await iterate();
  expect(tf.memory().numTensors).toBe(before);
}

function dispose(s: ReturnType<typeof setup>) {
  s.real.dispose();
  s.models.generator.dispose();
  s.models.discriminator.dispose();
  s.dOpt.dispose();
  s.gOpt.dispose();
}

describe('conditioning inputs', () => {
  it('appends the one-hot class to z and K constant planes to the image', () => {
    const z = generatorInputTensor(tiny, new Float32Array(2 * 8).fill(0.5), [2, 0]);
    expect(z.shape).toEqual([2, 11]);
    expect(Array.from(z.dataSync().slice(8, 11))).toEqual([0, 0, 1]);
    const img = tf.zeros([2, 16, 16, 1]) as tf.Tensor4D;
    const d = discriminatorInputTensor(tiny, img, [2, 0]);
    expect(d.shape).toEqual([2, 16, 16, 4]);
    const planes = tf.mean(d, [1, 2]).arraySync() as number[][];
    expect(planes).toEqual([
      [0, 0, 0, 1],
      [0, 1, 0, 0],
    ]);
    tf.dispose([z, img, d]);
  });

  it('leaves unconditional inputs as they are', () => {
    const config = { ...tiny, numClasses: 0 };
    expect(generatorInputTensor(config, new Float32Array(8)).shape).toEqual([1, 8]);
  });
});

describe('training steps', () => {
  it('the discriminator step moves D (weights, BN statistics, Adam state) and nothing of G', async () => {
    const s = setup();
    const g = snapshot(s.models.generator);
    const d = snapshot(s.models.discriminator);
    const result = await discriminatorStep(s.models, s.dOpt, {
      real: s.real,
      realLabels: s.labels(),
      noise: s.noise(),
      fakeLabels: s.labels(),
    });
    for (const v of Object.values(result)) expect(Number.isFinite(v)).toBe(true);
    expect(result.d_x).toBeGreaterThan(0);
    expect(result.d_x).toBeLessThan(1);
    expect(result.d_loss).toBeGreaterThan(0);
    expect(changed(g, s.models.generator)).toEqual([]);
    const moved = changed(d, s.models.discriminator);
    expect(moved).toEqual(s.models.discriminator.weights.map((w) => w.originalName)); // every D weight moves
    expect(s.gOpt.iterations).toBe(0);
    expect(s.dOpt.iterations).toBe(1);
    dispose(s);
  });

  it('the generator step moves G and nothing of D', async () => {
    const s = setup();
    const g = snapshot(s.models.generator);
    const d = snapshot(s.models.discriminator);
    const result = await generatorStep(s.models, s.gOpt, { noise: s.noise(), labels: s.labels() });
    expect(Number.isFinite(result.g_loss)).toBe(true);
    expect(result.d_g_z).toBeGreaterThan(0);
    expect(changed(d, s.models.discriminator)).toEqual([]);
    expect(changed(g, s.models.generator)).toEqual(s.models.generator.weights.map((w) => w.originalName));
    expect(s.dOpt.iterations).toBe(0);
    dispose(s);
  });

  it('the losses follow BCE: D loss = -log D(x) - log(1 - D(G(z))) at initialisation scale', async () => {
    const s = setup({ ...tiny, numClasses: 0 });
    const r = await discriminatorStep(s.models, s.dOpt, { real: s.real, noise: s.noise() });
    // Fresh DCGAN weights give logits near 0: D(x) ≈ D(G(z)) ≈ 0.5 and the loss ≈ 2 ln 2.
    expect(Math.abs(r.d_x - 0.5)).toBeLessThan(0.1);
    expect(Math.abs(r.d_loss - 2 * Math.LN2)).toBeLessThan(0.3);
    dispose(s);
  });

  it('leaks no tensors per iteration', async () => {
    const s = setup();
    const iterate = async () => {
      await discriminatorStep(s.models, s.dOpt, { real: s.real, realLabels: s.labels(), noise: s.noise(), fakeLabels: s.labels() });
      await generatorStep(s.models, s.gOpt, { noise: s.noise(), labels: s.labels() });
    };
    await expectNoLeakedTensors(iterate);
    dispose(s);
  });
});

describe('training steps with a projection discriminator', () => {
  /** The classes D is given on each call, read from its one-hot input. */
  function recordClasses(models: GanModels): number[][] {
    const seen: number[][] = [];
    const apply = models.discriminator.apply.bind(models.discriminator);
    models.discriminator.apply = (inputs, kwargs) => {
      const [, onehot] = inputs as tf.Tensor[];
      seen.push(Array.from(tf.tidy(() => tf.argMax(onehot, 1)).dataSync()));
      return apply(inputs, kwargs);
    };
    return seen;
  }

  it('feeds D the image and the one-hot class, no planes', () => {
    const s = setup(tiny, 'projection');
    const inputs = discriminatorInputs(s.models, s.real, [2, 0, 1, 1]) as tf.Tensor[];
    expect(inputs.map((t) => t.shape)).toEqual([
      [N, 16, 16, 1],
      [N, 3],
    ]);
    expect(inputs[1].arraySync()).toEqual([
      [0, 0, 1],
      [1, 0, 0],
      [0, 1, 0],
      [0, 1, 0],
    ]);
    tf.dispose(inputs[1]);
    dispose(s);
  });

  it('the discriminator step moves every D weight, the class embedding included, and nothing of G; fakes are judged as the class G was asked for', async () => {
    const s = setup(tiny, 'projection');
    const g = snapshot(s.models.generator);
    const d = snapshot(s.models.discriminator);
    const seen = recordClasses(s.models);
    const realLabels = [0, 1, 2, 0];
    const fakeLabels = [2, 2, 1, 0];
    const result = await discriminatorStep(s.models, s.dOpt, { real: s.real, realLabels, noise: s.noise(), fakeLabels });
    expect(seen).toEqual([realLabels, fakeLabels]);
    // Fresh weights give logits near 0: the BCE loss starts near 2 ln 2, as with class planes.
    expect(Math.abs(result.d_loss - 2 * Math.LN2)).toBeLessThan(0.3);
    expect(changed(g, s.models.generator)).toEqual([]);
    const moved = changed(d, s.models.discriminator);
    expect(moved).toContain('class_embedding/kernel');
    expect(moved).toEqual(s.models.discriminator.weights.map((w) => w.originalName));
    expect(s.gOpt.iterations).toBe(0);
    dispose(s);
  });

  it.each(['bce', 'hinge'] as const)('the generator step (%s) moves G and nothing of D, judged as the class asked for', async (loss) => {
    const s = setup(tiny, 'projection');
    const g = snapshot(s.models.generator);
    const d = snapshot(s.models.discriminator);
    const seen = recordClasses(s.models);
    const labels = [1, 0, 2, 2];
    const result = await generatorStep(s.models, s.gOpt, { noise: s.noise(), labels }, loss);
    expect(Number.isFinite(result.g_loss)).toBe(true);
    expect(seen).toEqual([labels]);
    expect(changed(d, s.models.discriminator)).toEqual([]);
    expect(changed(g, s.models.generator)).toEqual(s.models.generator.weights.map((w) => w.originalName));
    expect(s.dOpt.iterations).toBe(0);
    dispose(s);
  });

  it('leaks no tensors per iteration, with DiffAugment', async () => {
    const s = setup(tiny, 'projection');
    const rng = Sfc32.fromSeed('augment');
    const draw = () => drawAugmentation(DIFF_AUGMENT_POLICY, N, tiny.imageSize, rng);
    const iterate = async () => {
      const d = await discriminatorStep(
        s.models,
        s.dOpt,
        {
          real: s.real,
          realLabels: s.labels(),
          noise: s.noise(),
          fakeLabels: s.labels(),
          realAugmentation: draw(),
          fakeAugmentation: draw(),
        },
        'hinge',
      );
      const g = await generatorStep(s.models, s.gOpt, { noise: s.noise(), labels: s.labels(), augmentation: draw() }, 'hinge');
      for (const v of [...Object.values(d), ...Object.values(g)]) expect(Number.isFinite(v)).toBe(true);
    };
    await expectNoLeakedTensors(iterate);
    dispose(s);
  });
});

describe('training steps with a class loss (AC-GAN)', () => {
  function withClassHead(fakeClass = false) {
    const s = setup(tiny, 'projection');
    s.models.discriminator.dispose();
    s.models.discriminator = buildDiscriminator(tiny, 1, 'projection', { classHead: true, fakeClass });
    s.models.fakeClass = fakeClass;
    return s;
  }

  /**
   * CE(D's class logits for the images, targets), computed outside the steps on a setup of its own
   * (training mode moves BN statistics). D is told `labels`; the targets are the labels, or K (the
   * generated class) for every image when `generated`.
   */
  function classCrossEntropy(
    images: (s: ReturnType<typeof setup>) => tf.Tensor4D,
    labels: number[],
    { fakeClass = false, generated = false } = {},
  ): number {
    const probe = withClassHead(fakeClass);
    const classes = tiny.numClasses + (fakeClass ? 1 : 0);
    const targets = generated ? labels.map(() => tiny.numClasses) : labels;
    const ce = tf.tidy(() => {
      const [, classLogits] = probe.models.discriminator.apply(discriminatorInputs(probe.models, images(probe), labels), {
        training: true,
      }) as tf.Tensor[];
      return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(targets, 'int32'), classes), classLogits).dataSync()[0];
    });
    dispose(probe);
    return ce;
  }

  it('D gains a second output, K class logits, only with a projection', () => {
    const d = buildDiscriminator(tiny, 1, 'projection', { classHead: true });
    const out = d.predict([tf.zeros([2, 16, 16, 1]), tf.oneHot([0, 2], 3)]) as tf.Tensor[];
    expect(out.map((t) => t.shape)).toEqual([
      [2, 1],
      [2, 3],
    ]);
    tf.dispose(out);
    d.dispose();
    expect(() => buildDiscriminator(tiny, 1, 'planes', { classHead: true })).toThrow(ClassHeadWithoutProjectionError);
  });

  it('a head with the generated class has K + 1 logits, and needs the class head', () => {
    const d = buildDiscriminator(tiny, 1, 'projection', { classHead: true, fakeClass: true });
    const out = d.predict([tf.zeros([2, 16, 16, 1]), tf.oneHot([0, 2], 3)]) as tf.Tensor[];
    expect(out[1].shape).toEqual([2, 4]);
    tf.dispose(out);
    d.dispose();
    expect(() => buildDiscriminator(tiny, 1, 'projection', { fakeClass: true })).toThrow(FakeClassWithoutClassHeadError);
  });

  it("with the generated class, D's step also fits the head to call G's images generated: λ·(CE(real, y) + CE(fake, K))", async () => {
    const plain = withClassHead(true);
    const weighted = withClassHead(true);
    const realLabels = [0, 1, 2, 0];
    const fakeLabels = [2, 2, 1, 0];
    const noise = plain.noise();
    const onReal = classCrossEntropy((s) => s.real, realLabels, { fakeClass: true });
    // The step's fakes: G(z, c) in training mode, its statistics held (a probe's G is the same fresh G).
    const fake = (s: ReturnType<typeof setup>) =>
      s.models.generator.apply(generatorInputTensor(tiny, noise, fakeLabels), { training: true }) as tf.Tensor4D;
    const onFake = classCrossEntropy(fake, fakeLabels, { fakeClass: true, generated: true });
    expect(Math.abs(onFake - Math.log(4))).toBeLessThan(0.2); // K + 1 fresh logits near 0
    const batch = { real: plain.real, realLabels, noise, fakeLabels };
    const a = await discriminatorStep(plain.models, plain.dOpt, batch, 'bce', 0);
    const b = await discriminatorStep(weighted.models, weighted.dOpt, { ...batch, real: weighted.real }, 'bce', 2);
    expect(b.d_loss - a.d_loss).toBeCloseTo(2 * (onReal + onFake), 4);
    dispose(plain);
    dispose(weighted);
  });

  it("with the generated class, G's term is CE over all K + 1 logits against the class asked for", async () => {
    const plain = withClassHead(true);
    const weighted = withClassHead(true);
    const noise = plain.noise();
    const labels = [1, 0, 2, 2];
    const expected = classCrossEntropy(
      (s) => s.models.generator.apply(generatorInputTensor(tiny, noise, labels), { training: true }) as tf.Tensor4D,
      labels,
      { fakeClass: true },
    );
    const a = await generatorStep(plain.models, plain.gOpt, { noise, labels }, 'bce', 0);
    const b = await generatorStep(weighted.models, weighted.gOpt, { noise, labels }, 'bce', 0.5);
    expect(b.g_loss - a.g_loss).toBeCloseTo(0.5 * expected, 4);
    dispose(plain);
    dispose(weighted);
  });

  it("the discriminator step fits the class head to the real images' classes and adds λ·CE to its loss", async () => {
    const plain = withClassHead();
    const weighted = withClassHead();
    const before = snapshot(weighted.models.discriminator);
    const realLabels = [0, 1, 2, 0];
    const expected = classCrossEntropy((s) => s.real, realLabels);
    const batch = (s: ReturnType<typeof setup>) => ({ real: s.real, realLabels, noise: s.noise(), fakeLabels: [2, 2, 1, 0] });
    const a = await discriminatorStep(plain.models, plain.dOpt, batch(plain), 'bce', 0);
    const b = await discriminatorStep(weighted.models, weighted.dOpt, batch(weighted), 'bce', 2);
    expect(Math.abs(expected - Math.log(3))).toBeLessThan(0.2); // fresh class logits are near 0
    expect(b.d_loss - a.d_loss).toBeCloseTo(2 * expected, 4);
    expect(b.d_x).toBeCloseTo(a.d_x, 6);
    expect(changed(before, weighted.models.discriminator)).toEqual(expect.arrayContaining(['class_logits/kernel', 'class_logits/bias']));
    dispose(plain);
    dispose(weighted);
  });

  it('the generator step adds λ·CE(class head(G(z, c)), c) to its loss and moves G differently, nothing of D', async () => {
    const plain = withClassHead();
    const weighted = withClassHead();
    const noise = plain.noise();
    const labels = [1, 0, 2, 2];
    const expected = classCrossEntropy(
      (s) => s.models.generator.apply(generatorInputTensor(tiny, noise, labels), { training: true }) as tf.Tensor4D,
      labels,
    );
    const g = snapshot(plain.models.generator);
    const d = snapshot(weighted.models.discriminator);
    const a = await generatorStep(plain.models, plain.gOpt, { noise, labels }, 'bce', 0);
    const b = await generatorStep(weighted.models, weighted.gOpt, { noise, labels }, 'bce', 0.5);
    expect(b.g_loss - a.g_loss).toBeCloseTo(0.5 * expected, 4);
    expect(changed(d, weighted.models.discriminator)).toEqual([]);
    // Both moved every G weight from the same start, but not the same way.
    const moved = (s: ReturnType<typeof setup>) => s.models.generator.weights.map((w) => Array.from(w.read().dataSync()));
    expect(changed(g, weighted.models.generator).length).toBe(weighted.models.generator.weights.length);
    expect(moved(weighted)).not.toEqual(moved(plain));
    dispose(plain);
    dispose(weighted);
  });

  it('refuses a class loss without a class head, and leaks no tensors per iteration, with or without the generated class', async () => {
    const headless = setup(tiny, 'projection');
    await expect(
      generatorStep(headless.models, headless.gOpt, { noise: headless.noise(), labels: headless.labels() }, 'bce', 1),
    ).rejects.toThrow(/class head/);
    dispose(headless);
    for (const fakeClass of [false, true]) {
      const s = withClassHead(fakeClass);
      const iterate = async () => {
        await discriminatorStep(
          s.models,
          s.dOpt,
          { real: s.real, realLabels: s.labels(), noise: s.noise(), fakeLabels: s.labels() },
          'bce',
          1,
        );
        await generatorStep(s.models, s.gOpt, { noise: s.noise(), labels: s.labels() }, 'bce', 1);
      };
      await expectNoLeakedTensors(iterate);
      dispose(s);
    }
  });
});

describe('training steps with a spectrally normalised D', () => {
  it('the discriminator step moves its kernels and power-iteration vectors; the generator step moves nothing of D; no tensors leak', async () => {
    const s = setup(tiny, 'projection');
    s.models.discriminator.dispose();
    s.models.discriminator = buildDiscriminator(tiny, 1, 'projection', { spectralNorm: true });
    const d = snapshot(s.models.discriminator);
    await discriminatorStep(s.models, s.dOpt, { real: s.real, realLabels: s.labels(), noise: s.noise(), fakeLabels: s.labels() });
    // The score layer has one output: its u is a unit vector of length 1, ±1 whatever the kernel.
    const moving = s.models.discriminator.weights.map((w) => w.originalName).filter((n) => n !== 'score/sn_u');
    expect(changed(d, s.models.discriminator)).toEqual(moving);
    const afterD = snapshot(s.models.discriminator);
    await generatorStep(s.models, s.gOpt, { noise: s.noise(), labels: s.labels() });
    expect(changed(afterD, s.models.discriminator)).toEqual([]);
    await expectNoLeakedTensors(async () => {
      await discriminatorStep(s.models, s.dOpt, { real: s.real, realLabels: s.labels(), noise: s.noise(), fakeLabels: s.labels() });
      await generatorStep(s.models, s.gOpt, { noise: s.noise(), labels: s.labels() });
    });
    dispose(s);
  });
});
