import { loadDataset } from '/work/main/trainer/src/data/index.ts';
const t = await loadDataset('twemoji', { imageSize: 32, split: 'train', log: console.log });
const h = await loadDataset('twemoji', { imageSize: 32, split: 'heldout' });
console.log(t.count, h.count, t.classNames, Array.from({length: t.classNames.length}, (_, c) => t.labels.filter(l => l === c).length));
