/**
 * The daemon's control socket: a Unix socket, owner-only (mode 0600, created under a umask so no
 * other user could connect in between), one request line in and one response line out per
 * connection (docs/protocol/control.md). What a line means is control-server.ts's business.
 */
import { chmodSync, rmSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { MAX_CONTROL_LINE } from '../control/protocol.js'

export interface ControlSocket {
  close(): void
}

/** Listens on `path` and answers each request line with `handle(line)`. */
export async function listenControl(path: string, handle: (line: string) => Promise<string>): Promise<ControlSocket> {
  rmSync(path, { force: true })
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    socket.setEncoding('utf8')
    let buffer = ''
    let busy = false
    socket.on('data', (chunk: string) => {
      buffer += chunk
      if (busy) return
      if (buffer.length > 2 * MAX_CONTROL_LINE) return void socket.destroy()
      const nl = buffer.indexOf('\n')
      if (nl < 0) return
      busy = true
      const line = buffer.slice(0, nl)
      buffer = ''
      void handle(line).then((response) => {
        if (!socket.destroyed) socket.end(response + '\n')
      })
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    const mask = process.umask(0o177)
    try {
      server.listen(path, () => {
        server.removeListener('error', reject)
        resolve()
      })
    } finally {
      process.umask(mask)
    }
  })
  chmodSync(path, 0o600)
  return {
    close() {
      server.close()
      for (const socket of sockets) socket.destroy()
      rmSync(path, { force: true })
    },
  }
}
