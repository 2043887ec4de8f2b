/**
 * The scorer addition of `gan derive`: a trained scorer (gan train-scorer's <out>/scorer) and K, as
 * the derived version's `sampling` section, its two files and a card section.
 */
import { type Manifest, scorerMultiplyAdds } from '@gan/core';
import { SCORER_JSON, type Sampling } from '@gan/core/sampling';
import { readScorerDirectory } from '../sampler/scorer-files.ts';
import { DeriveError, type VersionAddition } from './derive.ts';

export async function scorerAddition(model: Manifest, scorerDir: string, candidates: number, command: string): Promise<VersionAddition> {
  const { files, json } = await readScorerDirectory(scorerDir);
  const a = json.architecture;
  if (a.imageSize !== model.imageSize || a.channels !== model.channels || a.numClasses !== model.classes.length) {
    throw new DeriveError(
      `the scorer in ${scorerDir} was made for ${a.imageSize}px, ${a.channels} channels, ${a.numClasses} classes: not this model`,
    );
  }
  const trainedOn = json.training.model as { name?: string; version?: string } | undefined;
  if (trainedOn?.name !== model.name || trainedOn?.version !== model.version) {
    throw new DeriveError(
      `the scorer in ${scorerDir} was trained against ${trainedOn?.name}@${trainedOn?.version}, not ${model.name}@${model.version}`,
    );
  }
  const sampling: Sampling = { candidates, scorer: { file: SCORER_JSON, architecture: a }, training: { ...json.training, command } };
  const t = json.training as { steps?: number; seconds?: number; validation?: Record<string, number> };
  const v = t.validation;
  const card = `## Sampling
Each image draws **${candidates} candidate latents** from its seed and shows the one a small scorer
shipped with this version likes best (Discriminator Rejection Sampling, Azadi et al. 2019, best of
${candidates}). Candidate 0 is the seed's own latent and the others continue its random stream, so the
same URL always gives the same image; the pick is made on the 8-bit pixels at ${model.imageSize} px, in plain
double-precision JavaScript, and so is the same in Node and in the worker, at any \`size\`, \`filter\`
and \`truncation\`. Ties go to the lowest candidate.

| | |
|---|---|
| scorer | projection discriminator, spectral norm, widths ${[a.width, a.width * 2, a.width * 4].join('/')} (${(scorerMultiplyAdds(a) / 1e6).toFixed(2)} M multiply-adds per candidate) |
| trained | ${t.steps} steps, ${t.seconds} s of CPU, against this generator held fixed; logistic loss; real images: the data set's train split (the held-out split never enters) |
${v ? `| check (real training images it never saw / fresh samples) | ${(v.realAccuracy * 100).toFixed(1)} % / ${(v.sampleAccuracy * 100).toFixed(1)} % told right |\n` : ''}| files | \`${[...files.keys()].join('`, `')}\` (sha256 in manifest.json) |

Made with:
\`\`\`
${command}
\`\`\``;
  return { files, manifest: { sampling }, card };
}
