import { once } from 'node:events'
import { createServer, connect, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { FrameDecoder, encodeFrame, encodeFrameHeader, FRAME_HEADER_BYTES } from '../../src/adapters/transport-tcp/frames.js'
import { FramedSocket } from '../../src/adapters/transport-tcp/framed-socket.js'

/** Splits `bytes` at the given cut points (sorted, deduplicated) into chunks. */
function chunk(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let last = 0
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(last, p))
    last = p
  }
  return out
}

const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

describe('TCP frame decoder', () => {
  it('returns every frame intact however the stream is chunked', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }),
        fc.array(fc.nat(5000), { maxLength: 20 }),
        (payloads, cuts) => {
          const stream = concat(payloads.map((p) => encodeFrame(p, 1000)))
          const decoder = new FrameDecoder(1000)
          const frames = chunk(stream, cuts).flatMap((c) => decoder.push(c))
          expect(frames.map((f) => [...f])).toEqual(payloads.map((p) => [...p]))
          expect(() => decoder.end()).not.toThrow()
        },
      ),
    )
  })

  it('answers random bytes with frames or a WireError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(2000), { maxLength: 8 }), (bytes, cuts) => {
        const decoder = new FrameDecoder(512)
        try {
          for (const c of chunk(bytes, cuts)) decoder.push(c)
          decoder.end()
        } catch (error) {
          expect((error as Error).name).toBe('WireError')
        }
        // Never holds more than one header plus one maximal frame.
        expect(decoder.buffered).toBeLessThanOrEqual(512 + FRAME_HEADER_BYTES)
      }),
    )
  })

  it('refuses an oversized length from the header alone, before buffering the body', () => {
    const decoder = new FrameDecoder(1024)
    const header = Uint8Array.of(1, 0x7f, 0xff, 0xff, 0xff)
    expect(() => decoder.push(header)).toThrow(expect.objectContaining({ name: 'WireError', code: 'FRAME_TOO_LARGE' }))
    expect(decoder.buffered).toBe(0)
    // Poisoned: the connection must be dropped, later bytes are not parsed.
    expect(() => decoder.push(encodeFrame(Uint8Array.of(1)))).toThrow(expect.objectContaining({ name: 'WireError' }))
  })

  it('refuses a future framing version', () => {
    const frame = encodeFrame(Uint8Array.of(1, 2, 3))
    frame[0] = 2
    expect(() => new FrameDecoder().push(frame)).toThrow(expect.objectContaining({ name: 'WireError', code: 'FRAME_VERSION' }))
  })

  it('reports a stream that ends inside a frame as truncated', () => {
    const frame = encodeFrame(new Uint8Array(100))
    const decoder = new FrameDecoder()
    expect(decoder.push(frame.subarray(0, 50))).toEqual([])
    expect(() => decoder.end()).toThrow(expect.objectContaining({ name: 'WireError', code: 'FRAME_TRUNCATED' }))
  })

  it('will not encode a payload above the limit', () => {
    expect(() => encodeFrame(new Uint8Array(11), 10)).toThrow(expect.objectContaining({ name: 'WireError', code: 'FRAME_TOO_LARGE' }))
  })

  it('encodes a header alone that is the first bytes of the whole frame, with the same limit', () => {
    const payload = new Uint8Array([1, 2, 3, 4, 5, 6, 7])
    expect([...encodeFrameHeader(payload.length), ...payload]).toEqual([...encodeFrame(payload)])
    expect(() => encodeFrameHeader(11, 10)).toThrow(expect.objectContaining({ name: 'WireError', code: 'FRAME_TOO_LARGE' }))
  })
})

describe('FramedSocket.sendAll', () => {
  it('sends the frames of one message in one gathered write that the other end reads as those frames, in order', async () => {
    const server = createServer()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const accepted = once(server, 'connection') as Promise<[Socket]>
    const client = connect((server.address() as { port: number }).port, '127.0.0.1')
    await once(client, 'connect')
    const [serverSide] = await accepted
    const sender = new FramedSocket(client, 70_000)
    const receiver = new FramedSocket(serverSide, 70_000)
    const sizes = [65_535, 65_535, 1, 40_000]
    const messages = sizes.map((n, i) => Uint8Array.from({ length: n }, (_, k) => (k * 7 + i) & 0xff))
    // Node gathers a corked socket's writes into one `_writev` call: count the buffers it gets.
    const raw = client as unknown as { _writev: (chunks: unknown[], cb: () => void) => void }
    const writev = raw._writev.bind(client)
    let gathered = 0
    raw._writev = (chunks, cb) => {
      gathered = Math.max(gathered, chunks.length)
      writev(chunks, cb)
    }
    const got: Uint8Array[] = []
    const all = new Promise<void>((resolve) => {
      receiver.onFrame = (f) => {
        got.push(f)
        if (got.length === messages.length) resolve()
      }
    })
    sender.sendAll(messages)
    await all
    expect(got.map((f) => f.length)).toEqual(sizes)
    for (const [i, m] of messages.entries()) expect(Buffer.compare(got[i]!, m)).toBe(0)
    // Eight buffers (a header and a payload per frame) reached the socket as one writev.
    expect(gathered).toBe(2 * messages.length)
    expect(sender.bytesSent).toBe(sizes.reduce((n, s) => n + s + FRAME_HEADER_BYTES, 0))
    sender.close()
    receiver.close()
    server.close()
  })
})
