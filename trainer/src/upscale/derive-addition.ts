/**
 * The upscaler addition of `gan derive`: an upscaler export (gan upscaler export) as the derived
 * version's `upscaler` entry, its two weight files copied byte for byte, and a card section.
 */
import type { Manifest } from '@gan/core';
import { UPSCALER_WEIGHTS_FILE, upscalerMultiplyAdds } from '@gan/core/upscaler';
import { DeriveError, type VersionAddition } from '../derive/derive.ts';
import { readUpscalerExport } from './export.ts';

export async function upscalerAddition(model: Manifest, dir: string, isDefault: boolean, command: string): Promise<VersionAddition> {
  const { manifest: u, files: all } = await readUpscalerExport(dir);
  const a = u.architecture;
  if (a.inputSize !== model.imageSize || a.channels !== model.channels) {
    throw new DeriveError(`the upscaler in ${dir} takes ${a.inputSize}px, ${a.channels} channels: not this model's images`);
  }
  if (u.trainedFor.name !== model.name || u.trainedFor.version !== model.version) {
    throw new DeriveError(
      `the upscaler in ${dir} was made for ${u.trainedFor.name}@${u.trainedFor.version}, not ${model.name}@${model.version}`,
    );
  }
  // The weights only: the export's card and manifest describe the upscaler, not this version.
  const files = new Map([...all].filter(([p]) => p === UPSCALER_WEIGHTS_FILE || p.startsWith('upscaler-')));
  const evaluation = (u.metrics as { evaluation?: { heldOut?: { psnr?: Record<string, number> } } }).evaluation;
  const psnr = evaluation?.heldOut?.psnr;
  const card = `## Learned upscaler
\`filter=learned\` enlarges this version's ${a.inputSize}-px images through a small network trained for it
(\`${u.name}@${u.version}\`: ESPCN-like, widths ${a.widths.join('/')}, ×${a.scale} by pixel shuffle on top of the
bilinear enlargement${a.refineWidth === undefined ? '' : `, ${(a.refineBlocks ?? 1) > 1 ? `${a.refineBlocks} width-${a.refineWidth} refinements` : `a width-${a.refineWidth} refinement`} at ${a.scale * a.inputSize} px`}, ${(upscalerMultiplyAdds(a) / 1e6).toFixed(1)} M multiply-adds per image), on the worker's serving kernels.
Sizes up to ${a.scale * a.inputSize} px are its ×${a.scale} image reduced bilinearly; larger sizes enlarge it bilinearly; at
or below ${a.inputSize} px it is \`bilinear\`. ${isDefault ? `It is this version's **default** filter above ${a.inputSize} px.` : 'Ask for it with `filter=learned`; the default stays `bilinear`.'}
${psnr ? `\nOn held-out real emoji (${a.inputSize} → ${a.scale * a.inputSize} px): PSNR ${psnr.learned.toFixed(2)} dB against bicubic's ${psnr.bicubic.toFixed(2)} and bilinear's ${psnr.bilinear.toFixed(2)}.\n` : ''}
Made with:
\`\`\`
${command}
\`\`\``;
  return {
    files,
    manifest: { upscaler: { weights: UPSCALER_WEIGHTS_FILE, architecture: a, source: `${u.name}@${u.version}`, default: isDefault } },
    card,
  };
}
