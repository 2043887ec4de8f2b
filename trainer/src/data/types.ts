/** A data set as its sources give it: 8-bit square images, in source order, with labels. */
export interface RawDataset {
  /** The data set's name as given on the command line: mnist, twemoji, folder:<path>. */
  name: string;
  channels: 1 | 3;
  /** Class names in label order; empty for an unlabelled data set. */
  classNames: string[];
  /** One [size, size, channels] byte image per example. */
  images: Uint8Array[];
  /** Class index per image (0 for unlabelled data sets). */
  labels: number[];
  licence: LicenceInfo;
  /** What the images were read from (package version, file list digest): part of the cache key. */
  sourceVersion: string;
}

export interface LicenceInfo {
  /** SPDX-style licence of the images, e.g. MIT, CC-BY-4.0. */
  licence: string;
  /** The credit line the licence asks for; copied into the model card. */
  attribution?: string;
}
