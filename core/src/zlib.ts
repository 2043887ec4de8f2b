/**
 * zlib compression with exactly the bytes of fflate 0.8.3's `zlibSync(data, { level })`, for the
 * small buffers this project compresses once per image (PNG rows, 1–50 KB).
 *
 * Every image this project serves is pinned to fflate's output (the golden bytes), so the algorithm
 * must stay fflate's to the bit. fflate allocates ~170 KB of tables on every call (its hash chains
 * and symbol buffer), which inside workerd cost as much as compressing a 32-pixel image; this is
 * fflate's deflate (its `dflt`, `wblk`, `hTree`, `lc` and helpers, one-shot, no dictionary) with
 * those tables allocated once and cleared where fflate relies on fresh zeros. tests/core/zlib.test.ts
 * compares it with fflate on random, structured and real image data of many lengths, calls in any
 * order.
 *
 * Ported from fflate 0.8.3 (https://github.com/101arrowz/fflate) under its licence:
 *
 * MIT License
 *
 * Copyright (c) 2026 Arjun Barrett
 *
 * Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
 * associated documentation files (the "Software"), to deal in the Software without restriction,
 * including without limitation the rights to use, copy, modify, merge, publish, distribute,
 * sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
 * furnished to do so, subject to the following conditions:
 *
 * The above copyright notice and this permission notice shall be included in all copies or
 * substantial portions of the Software.
 *
 * THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
 * NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
 * NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES
 * OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
 * CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
 */

const u8 = Uint8Array;
const u16 = Uint16Array;
const i32 = Int32Array;

// Fixed length extra bits, fixed distance extra bits, code length index map.
const fleb = new u8([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0, 0, 0, 0]);
const fdeb = new u8([0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 0, 0]);
const clim = new u8([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]);

/** Base values and the reverse index map from extra bits (fflate's `freb`). */
function reverseIndex(eb: Uint8Array, start: number): Int32Array {
  const b = new u16(31);
  for (let i = 0; i < 31; ++i) b[i] = start += 1 << eb[i - 1];
  const r = new i32(b[30]);
  for (let i = 1; i < 30; ++i) for (let j = b[i]; j < b[i + 1]; ++j) r[j] = ((j - b[i]) << 5) | i;
  return r;
}
const revfl = reverseIndex(fleb, 2);
revfl[258] = 28;
const revfd = reverseIndex(fdeb, 0);

const rev = new u16(32768);
for (let i = 0; i < 32768; ++i) {
  let x = ((i & 0xaaaa) >> 1) | ((i & 0x5555) << 1);
  x = ((x & 0xcccc) >> 2) | ((x & 0x3333) << 2);
  x = ((x & 0xf0f0) >> 4) | ((x & 0x0f0f) << 4);
  rev[i] = (((x & 0xff00) >> 8) | ((x & 0x00ff) << 8)) >> 1;
}

/** Huffman codes (bit-reversed, for writing) from code lengths `cd`, at most `mb` bits (fflate's `hMap` for encoding). */
function hMap(cd: Uint8Array, mb: number): Uint16Array {
  const s = cd.length;
  const l = new u16(mb);
  for (let i = 0; i < s; ++i) if (cd[i]) ++l[cd[i] - 1];
  const le = new u16(mb);
  for (let i = 1; i < mb; ++i) le[i] = (le[i - 1] + l[i - 1]) << 1;
  const co = new u16(s);
  for (let i = 0; i < s; ++i) if (cd[i]) co[i] = rev[le[cd[i] - 1]++] >> (15 - cd[i]);
  return co;
}

// The fixed trees.
const flt = new u8(288);
for (let i = 0; i < 144; ++i) flt[i] = 8;
for (let i = 144; i < 256; ++i) flt[i] = 9;
for (let i = 256; i < 280; ++i) flt[i] = 7;
for (let i = 280; i < 288; ++i) flt[i] = 8;
const fdt = new u8(32).fill(5);
const flm = hMap(flt, 9);
const fdm = hMap(fdt, 5);

const shft = (p: number) => ((p + 7) / 8) | 0;

function wbits(d: Uint8Array, p: number, v: number): void {
  v <<= p & 7;
  const o = (p / 8) | 0;
  d[o] |= v;
  d[o + 1] |= v >> 8;
}

function wbits16(d: Uint8Array, p: number, v: number): void {
  v <<= p & 7;
  const o = (p / 8) | 0;
  d[o] |= v;
  d[o + 1] |= v >> 8;
  d[o + 2] |= v >> 16;
}

interface TreeNode {
  s: number;
  f: number;
  l?: TreeNode;
  r?: TreeNode;
}

const empty = new u8(0);

/** Code lengths from a frequency table, at most `mb` bits (fflate's `hTree`). */
function hTree(d: Uint16Array, mb: number): { t: Uint8Array; l: number } {
  const t: TreeNode[] = [];
  for (let i = 0; i < d.length; ++i) if (d[i]) t.push({ s: i, f: d[i] });
  const s = t.length;
  const t2 = t.slice();
  if (!s) return { t: empty, l: 0 };
  if (s === 1) {
    const v = new u8(t[0].s + 1);
    v[t[0].s] = 1;
    return { t: v, l: 1 };
  }
  t.sort((a, b) => a.f - b.f);
  t.push({ s: -1, f: 25001 });
  let l = t[0];
  let r = t[1];
  let i0 = 0;
  let i1 = 1;
  let i2 = 2;
  t[0] = { s: -1, f: l.f + r.f, l, r };
  while (i1 !== s - 1) {
    l = t[t[i0].f < t[i2].f ? i0++ : i2++];
    r = t[i0 !== i1 && t[i0].f < t[i2].f ? i0++ : i2++];
    t[i1++] = { s: -1, f: l.f + r.f, l, r };
  }
  let maxSym = t2[0].s;
  for (let i = 1; i < s; ++i) if (t2[i].s > maxSym) maxSym = t2[i].s;
  const tr = new u16(maxSym + 1);
  let mbt = ln(t[i1 - 1], tr, 0);
  if (mbt > mb) {
    let i = 0;
    let dt = 0;
    const lft = mbt - mb;
    const cst = 1 << lft;
    t2.sort((a, b) => tr[b.s] - tr[a.s] || a.f - b.f);
    for (; i < s; ++i) {
      const i2_1 = t2[i].s;
      if (tr[i2_1] > mb) {
        dt += cst - (1 << (mbt - tr[i2_1]));
        tr[i2_1] = mb;
      } else break;
    }
    dt >>= lft;
    while (dt > 0) {
      const i2_2 = t2[i].s;
      if (tr[i2_2] < mb) dt -= 1 << (mb - tr[i2_2]++ - 1);
      else ++i;
    }
    for (; i >= 0 && dt; --i) {
      const i2_3 = t2[i].s;
      if (tr[i2_3] === mb) {
        --tr[i2_3];
        ++dt;
      }
    }
    mbt = mb;
  }
  return { t: new u8(tr), l: mbt };
}

/** Assigns depths as code lengths; returns the deepest. */
function ln(n: TreeNode, l: Uint16Array, d: number): number {
  if (n.s === -1) return Math.max(ln(n.l!, l, d + 1), ln(n.r!, l, d + 1));
  l[n.s] = d;
  return d;
}

/** The run-length coded code lengths of a tree (fflate's `lc`). */
function lc(c: Uint8Array): { c: Uint16Array; n: number } {
  let s = c.length;
  while (s && !c[--s]);
  const cl = new u16(++s);
  let cli = 0;
  let cln = c[0];
  let cls = 1;
  const w = (v: number) => {
    cl[cli++] = v;
  };
  for (let i = 1; i <= s; ++i) {
    if (c[i] === cln && i !== s) ++cls;
    else {
      if (!cln && cls > 2) {
        for (; cls > 138; cls -= 138) w(32754);
        if (cls > 2) {
          w(cls > 10 ? ((cls - 11) << 5) | 28690 : ((cls - 3) << 5) | 12305);
          cls = 0;
        }
      } else if (cls > 3) {
        w(cln);
        --cls;
        for (; cls > 6; cls -= 6) w(8304);
        if (cls > 2) {
          w(((cls - 3) << 5) | 8208);
          cls = 0;
        }
      }
      while (cls--) w(cln);
      cls = 1;
      cln = c[i];
    }
  }
  return { c: cl.subarray(0, cli), n: s };
}

function clen(cf: Uint16Array, cl: Uint8Array): number {
  let l = 0;
  for (let i = 0; i < cl.length; ++i) l += cf[i] * cl[i];
  return l;
}

/** A stored block; returns the new bit position. */
function wfblk(out: Uint8Array, pos: number, dat: Uint8Array): number {
  const s = dat.length;
  const o = shft(pos + 2);
  out[o] = s & 255;
  out[o + 1] = s >> 8;
  out[o + 2] = out[o] ^ 255;
  out[o + 3] = out[o + 1] ^ 255;
  for (let i = 0; i < s; ++i) out[o + i + 4] = dat[i];
  return (o + 4 + s) * 8;
}

/** One block, stored, fixed or dynamic, whichever is smallest (fflate's `wblk`); returns the new bit position. */
function wblk(
  dat: Uint8Array,
  out: Uint8Array,
  final: number,
  syms: Int32Array,
  lf: Uint16Array,
  df: Uint16Array,
  eb: number,
  li: number,
  bs: number,
  bl: number,
  p: number,
): number {
  wbits(out, p++, final);
  ++lf[256];
  const { t: dlt, l: mlb } = hTree(lf, 15);
  const { t: ddt, l: mdb } = hTree(df, 15);
  const { c: lclt, n: nlc } = lc(dlt);
  const { c: lcdt, n: ndc } = lc(ddt);
  const lcfreq = new u16(19);
  for (let i = 0; i < lclt.length; ++i) ++lcfreq[lclt[i] & 31];
  for (let i = 0; i < lcdt.length; ++i) ++lcfreq[lcdt[i] & 31];
  const { t: lct, l: mlcb } = hTree(lcfreq, 7);
  let nlcc = 19;
  for (; nlcc > 4 && !lct[clim[nlcc - 1]]; --nlcc);
  const flen = (bl + 5) << 3;
  const ftlen = clen(lf, flt) + clen(df, fdt) + eb;
  const dtlen = clen(lf, dlt) + clen(df, ddt) + eb + 14 + 3 * nlcc + clen(lcfreq, lct) + 2 * lcfreq[16] + 3 * lcfreq[17] + 7 * lcfreq[18];
  if (bs >= 0 && flen <= ftlen && flen <= dtlen) return wfblk(out, p, dat.subarray(bs, bs + bl));
  let lm: Uint16Array;
  let ll: Uint8Array;
  let dm: Uint16Array;
  let dl: Uint8Array;
  wbits(out, p, 1 + (dtlen < ftlen ? 1 : 0));
  p += 2;
  if (dtlen < ftlen) {
    lm = hMap(dlt, mlb);
    ll = dlt;
    dm = hMap(ddt, mdb);
    dl = ddt;
    const llm = hMap(lct, mlcb);
    wbits(out, p, nlc - 257);
    wbits(out, p + 5, ndc - 1);
    wbits(out, p + 10, nlcc - 4);
    p += 14;
    for (let i = 0; i < nlcc; ++i) wbits(out, p + 3 * i, lct[clim[i]]);
    p += 3 * nlcc;
    for (const clct of [lclt, lcdt]) {
      for (let i = 0; i < clct.length; ++i) {
        const len = clct[i] & 31;
        wbits(out, p, llm[len]);
        p += lct[len];
        if (len > 15) {
          wbits(out, p, (clct[i] >> 5) & 127);
          p += clct[i] >> 12;
        }
      }
    }
  } else {
    lm = flm;
    ll = flt;
    dm = fdm;
    dl = fdt;
  }
  for (let i = 0; i < li; ++i) {
    const sym = syms[i];
    if (sym > 255) {
      const len = (sym >> 18) & 31;
      wbits16(out, p, lm[len + 257]);
      p += ll[len + 257];
      if (len > 7) {
        wbits(out, p, (sym >> 23) & 31);
        p += fleb[len];
      }
      const dst = sym & 31;
      wbits16(out, p, dm[dst]);
      p += dl[dst];
      if (dst > 3) {
        wbits16(out, p, (sym >> 5) & 8191);
        p += fdeb[dst];
      }
    } else {
      wbits16(out, p, lm[sym]);
      p += ll[sym];
    }
  }
  wbits16(out, p, lm[256]);
  return p + ll[256];
}

// Deflate options per level: (nice << 13) | chain.
const deo = new i32([65540, 131080, 131088, 131104, 262176, 1048704, 1048832, 2114560, 2117632]);

/** The tables fflate allocates per call, kept: `prev` and `syms` are written before they are read. */
const prev = new u16(32768);
const syms = new i32(25000);
const lf = new u16(288);
const df = new u16(32);
let head = new u16(1 << 12);

/** Raw deflate of `dat` at `lvl` (1–9) as one final stream, `pre` bytes free before it and `post` after (fflate's `dflt`). */
function deflate(dat: Uint8Array, lvl: number, plvl: number, pre: number, post: number): Uint8Array {
  const s = dat.length;
  const o = new u8(pre + s + 5 * (1 + Math.ceil(s / 7000)) + post);
  const w = o.subarray(pre, o.length - post);
  let pos = 0;
  const opt = deo[lvl - 1];
  const n = opt >> 13;
  const c = opt & 8191;
  const msk = (1 << plvl) - 1;
  if (head.length < msk + 1) head = new u16(msk + 1);
  head.fill(0, 0, msk + 1); // fflate's is fresh: position 0 of every chain
  lf.fill(0);
  df.fill(0);
  const bs1 = Math.ceil(plvl / 3);
  const bs2 = 2 * bs1;
  const hsh = (i: number) => (dat[i] ^ (dat[i + 1] << bs1) ^ (dat[i + 2] << bs2)) & msk;
  let lcnt = 0;
  let eb = 0;
  let i = 0;
  let li = 0;
  let wi = 0;
  let bs = 0;
  for (; i + 2 < s; ++i) {
    const hv = hsh(i);
    let imod = i & 32767;
    let pimod = head[hv];
    prev[imod] = pimod;
    head[hv] = imod;
    if (wi <= i) {
      const rem = s - i;
      if (lcnt > 7000 || li > 24576) {
        // fflate also requires rem > 423 || !lst; a one-shot stream is always the last (lst = 1).
        if (rem > 423) {
          pos = wblk(dat, w, 0, syms, lf, df, eb, li, bs, i - bs, pos);
          li = lcnt = eb = 0;
          bs = i;
          for (let j = 0; j < 286; ++j) lf[j] = 0;
          for (let j = 0; j < 30; ++j) df[j] = 0;
        }
      }
      let l = 2;
      let d = 0;
      let ch = c;
      let dif = (imod - pimod) & 32767;
      if (rem > 2 && hv === hsh(i - dif)) {
        const maxn = Math.min(n, rem) - 1;
        const maxd = Math.min(32767, i);
        const ml = Math.min(258, rem);
        while (dif <= maxd && --ch && imod !== pimod) {
          if (dat[i + l] === dat[i + l - dif]) {
            let nl = 0;
            for (; nl < ml && dat[i + nl] === dat[i + nl - dif]; ++nl);
            if (nl > l) {
              l = nl;
              d = dif;
              if (nl > maxn) break;
              const mmd = Math.min(dif, nl - 2);
              let md = 0;
              for (let j = 0; j < mmd; ++j) {
                const ti = (i - dif + j) & 32767;
                const pti = prev[ti];
                const cd = (ti - pti) & 32767;
                if (cd > md) {
                  md = cd;
                  pimod = ti;
                }
              }
            }
          }
          imod = pimod;
          pimod = prev[imod];
          dif += (imod - pimod) & 32767;
        }
      }
      if (d) {
        syms[li++] = 268435456 | (revfl[l] << 18) | revfd[d];
        const lin = revfl[l] & 31;
        const din = revfd[d] & 31;
        eb += fleb[lin] + fdeb[din];
        ++lf[257 + lin];
        ++df[din];
        wi = i + l;
        ++lcnt;
      } else {
        syms[li++] = dat[i];
        ++lf[dat[i]];
      }
    }
  }
  for (i = Math.max(i, wi); i < s; ++i) {
    syms[li++] = dat[i];
    ++lf[dat[i]];
  }
  pos = wblk(dat, w, 1, syms, lf, df, eb, li, bs, i - bs, pos);
  return o.slice(0, pre + shft(pos) + post);
}

function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  const l = data.length | 0;
  for (let i = 0; i !== l; ) {
    const e = Math.min(i + 2655, l);
    for (; i < e; ++i) b += a += data[i];
    a = (a & 65535) + 15 * (a >> 16);
    b = (b & 65535) + 15 * (b >> 16);
  }
  a %= 65521;
  b %= 65521;
  return ((a & 255) << 24) | ((a & 0xff00) << 8) | ((b & 255) << 8) | (b >> 8);
}

/** zlib stream of `data` at `level` 1–9: the bytes of fflate 0.8.3's `zlibSync(data, { level })`. */
export function zlibCompress(data: Uint8Array, level: number): Uint8Array {
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`zlib level must be 1–9, got ${level}`);
  const plvl = Math.ceil(Math.max(8, Math.min(13, Math.log(data.length))) * 1.5);
  const d = deflate(data, level, plvl, 2, 4);
  // Header: deflate, 32 KiB window, the level's flag, check bits.
  const fl = level < 6 ? 1 : level === 9 ? 3 : 2;
  d[0] = 120;
  d[1] = fl << 6;
  d[1] |= 31 - (((d[0] << 8) | d[1]) % 31);
  // Trailer: Adler-32, big-endian (fflate's wbytes stops at the value's last non-zero byte, after zero-filled ones).
  let v = adler32(data);
  for (let b = d.length - 4; v; ++b) {
    d[b] = v;
    v >>>= 8;
  }
  return d;
}
