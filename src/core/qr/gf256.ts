/**
 * Arithmetic in GF(2^8) with the polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d), the field of
 * Reed–Solomon and RaptorQ. Addition is XOR; multiplication goes through one 64 KiB table so that
 * a row operation is one lookup per byte.
 */

const EXP = new Uint8Array(512)
const LOG = new Uint8Array(256)
{
  let x = 1
  for (let i = 0; i < 255; i++) {
    EXP[i] = x
    LOG[x] = i
    x <<= 1
    if (x & 0x100) x ^= 0x11d
  }
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255]!
}

/** `MUL[(a << 8) | b] = a·b`. */
const MUL = new Uint8Array(256 * 256)
for (let a = 1; a < 256; a++) {
  for (let b = 1; b < 256; b++) MUL[(a << 8) | b] = EXP[LOG[a]! + LOG[b]!]!
}

/** a·b in GF(256). */
export function gfMul(a: number, b: number): number {
  return MUL[((a & 0xff) << 8) | (b & 0xff)]!
}

/** The multiplicative inverse of a non-zero element. */
export function gfInv(a: number): number {
  if (a === 0) throw new RangeError('0 has no inverse in GF(256)')
  return EXP[255 - LOG[a]!]!
}

/** `dst[i] ^= c·src[i]` for i in [from, dst.length). The workhorse of encoding and elimination. */
export function addMulRow(dst: Uint8Array, src: Uint8Array, c: number, from = 0): void {
  if (c === 0) return
  const n = dst.length
  if (c === 1) {
    for (let i = from; i < n; i++) dst[i]! ^= src[i]!
    return
  }
  const base = c << 8
  for (let i = from; i < n; i++) dst[i]! ^= MUL[base | src[i]!]!
}

/** `row[i] = c·row[i]` in place. */
export function scaleRow(row: Uint8Array, c: number): void {
  if (c === 1) return
  const base = c << 8
  for (let i = 0; i < row.length; i++) row[i] = MUL[base | row[i]!]!
}
