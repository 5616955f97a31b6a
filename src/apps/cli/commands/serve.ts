import { InvalidArgumentError, Option } from 'commander'
import type { CommandModule } from '../command-module.js'
import { fields, when } from '../format.js'
import { hostPort, ipv4 } from '../lan-options.js'

/** `--interface`: an IPv4 address (digits and dots must be one) or an interface name. */
function interfaceArg(value: string): string {
  if (/^[\d.]+$/.test(value)) return ipv4(value)
  if (!/^[\w .:@()-]{1,64}$/.test(value)) throw new InvalidArgumentError('expected an IPv4 address (192.168.1.20) or an interface name (eth0, wlan0, en0)')
  return value
}

/** The greeting's discovery line, from `daemon.status().mdns` (src/apps/daemon/discovery.ts). */
export function discoveryLine(mdns: unknown): string {
  const m = mdns as { off?: string; interfaces?: Array<{ name: string; address: string }>; reason?: string } | undefined
  if (m === undefined || typeof m !== 'object') return 'off'
  if (m.off !== undefined) return m.off === '--no-mdns' ? 'off (--no-mdns; reach devices with `orbit sync HOST:PORT`)' : `off (${m.off})`
  const on = (m.interfaces ?? []).map((i) => `${i.name} (${i.address})`)
  if (on.length > 0) return `mDNS on ${on.join(', ')}`
  return `mDNS waiting: ${m.reason ?? 'no usable interface'}; it starts when one comes up`
}

/** The greeting's web UI line: the secret link, what an exposed server is reachable at, and why the port moved. */
export function uiLine(ui: { url: string; exposed: boolean; hosts: string[]; built: boolean; note?: string }): string {
  const parts = [ui.url]
  if (ui.exposed) parts.push(`EXPOSED beyond this machine, at ${ui.hosts.filter((h) => !/^(127\.0\.0\.1|localhost|\[::1\]):/.test(h)).join(', ') || 'its non-loopback address'} (anyone with the link can use this device)`)
  if (ui.note !== undefined) parts.push(`(${ui.note})`)
  if (!ui.built) parts.push('(the page is not built: `npm run build`; the API works)')
  return parts.join('\n           ')
}

export const serveCommands: CommandModule = {
  name: 'serve',
  register(program, ctx) {
    program
      .command('serve')
      .description('start this device: keep it online on the LAN and sync with paired devices (initialises the data dir on first run)')
      .option('--listen <host:port>', 'accept connections here', hostPort)
      .option('--interface <ip|name>', 'mDNS discovery and invites on this one interface (IPv4 address or name, e.g. wlan0); default: every usable interface', interfaceArg)
      .option('--no-mdns', 'do not advertise or browse with mDNS (reach peers by address: `orbit sync HOST:PORT`)')
      .addOption(new Option('--http <host:port>', 'serve the web UI and its API here (port 0 picks one); default 127.0.0.1:7879').argParser(hostPort))
      .option('--no-http', 'do not serve the web UI')
      .option('--http-expose', 'allow a --http host other than loopback: the UI is then reachable by other machines (secret link still required)')
      .option('--name <name>', 'on first run: a name for this device (default: the host name)')
      .option('--no-invite', 'on first run: do not print an invite code')
      .addHelpText(
        'after',
        `
Listens on 0.0.0.0:7878 unless --listen says otherwise. While it runs, the other commands on the
same data dir go through it. Stop it with Ctrl-C (SIGINT) or SIGTERM.

Discovery (mDNS, _crmorbit._tcp): by default on every interface that is up, multicast-capable,
not loopback and has a private IPv4 address (10/8, 172.16/12, 192.168/16, 169.254/16; container
and VM bridges such as docker0 excluded), each advertising its own address. Interfaces are
checked every 3 s, so joining another network needs no restart. --interface pins one (an IPv4
address or a name); a specific --listen host means its interface only, and a loopback one
(127.0.0.1) turns discovery off; --no-mdns turns it off. Announcements are hints: every
connection proves the device's key.

Web UI (the Sync screen): on http://127.0.0.1:7879 unless --http says otherwise (if 7879 is taken,
any free port). The greeting prints its link with this device's secret (\`orbit ui\` prints it again);
the browser keeps the secret in a cookie. Only loopback by default: another host needs --http-expose,
and anyone who can reach it still needs the link. --no-http turns it off.

Examples:
  $ orbit serve --name "My laptop"
  $ orbit serve --interface wlan0
  $ orbit serve --interface 192.168.1.20
  $ orbit serve --http 127.0.0.1:8080
  $ orbit serve --http 0.0.0.0:7879 --http-expose      # the UI on every interface
  $ orbit --data /tmp/b serve --listen 127.0.0.1:7880 --no-mdns --http 127.0.0.1:0 --json`,
      )
      .action(
        ctx.action(async (opts, cmd) => {
          const { dataDir } = ctx.globals(cmd)
          const { hostname } = await import('node:os')
          const { StoreError } = await import('../../../core/errors.js')
          const { parseName } = await import('../../../core/model/validate.js')
          const { initDevice } = await import('../../node/device.js')
          const name = parseName(typeof opts.name === 'string' ? opts.name : hostname().split('.')[0] || 'My device', 'name')
          let created = false
          try {
            await initDevice(dataDir, { name })
            created = true
          } catch (error) {
            if (!(error instanceof StoreError && error.code === 'ALREADY_INITIALISED')) throw error
          }
          const http = opts.http === false ? undefined : (opts.http as { host: string; port: number } | undefined)
          if (opts.http === false && opts.httpExpose === true) ctx.hint(cmd, 'note: --http-expose has no effect with --no-http')
          const { createLogger } = await import('../../../adapters/log/pino.js')
          const { startDaemon } = await import('../../daemon/daemon.js')
          const listen = opts.listen as { host: string; port: number } | undefined
          const daemon = await startDaemon({
            dataDir,
            ...(listen === undefined ? {} : { listen }),
            ...(typeof opts.interface === 'string' ? { interface: opts.interface } : {}),
            mdns: opts.mdns !== false,
            ...(opts.http === false
              ? {}
              : { http: { ...(http ?? { host: '127.0.0.1', port: 7879 }), expose: opts.httpExpose === true, fallback: http === undefined } }),
            logger: createLogger({ level: ctx.io.env.ORBIT_LOG_LEVEL ?? 'warn' }),
          })
          const stopped = new Promise<string>((resolve) => {
            process.once('SIGINT', () => resolve('SIGINT'))
            process.once('SIGTERM', () => resolve('SIGTERM'))
          })
          try {
            const ws = daemon.device.workspace
            const alone = ws.listDevices().filter((d) => ws.memberStatus(d.id) === 'member').length <= 1
            const invite = opts.invite !== false && alone ? await daemon.createInvite() : undefined
            const listenText = `${daemon.listenAddress.host}:${daemon.listenAddress.port}`
            const status = daemon.status()
            const ui = daemon.ui()
            ctx.emit(
              cmd,
              {
                event: 'ready',
                initialised: created,
                dataDir,
                deviceId: daemon.device.identity.deviceId,
                deviceName: daemon.device.deviceName,
                workspace: { id: ws.workspaceId, name: ws.name },
                listen: listenText,
                control: daemon.controlPath,
                mdns: status.mdns,
                ...(ui === undefined ? {} : { ui }),
                ...(invite === undefined ? {} : { invite }),
              },
              () =>
                [
                  created ? `Initialised Orbit in ${dataDir}` : '',
                  `Orbit is running.`,
                  fields([
                    ['device', `${daemon.device.deviceName} (${daemon.device.identity.deviceId})`],
                    ['workspace', `${ws.name} (${ws.workspaceId})`],
                    ['listening', listenText],
                    ['discovery', discoveryLine(status.mdns)],
                    ['web UI', ui === undefined ? 'off (--no-http)' : uiLine(ui)],
                    ['data dir', dataDir],
                  ]),
                  '',
                  ...(invite === undefined
                    ? ['To add a device: run `orbit pair invite` here, then `orbit pair join CODE` on the other device.']
                    : [`On your other device:  orbit pair join ${invite.code}`, `(the code works once, until ${when(invite.expiresAt)}; a new one: orbit pair invite --qr invite.png)`]),
                  'Stop with Ctrl-C.',
                ]
                  .filter((l, i) => l !== '' || i > 0)
                  .join('\n'),
            )
            const signal = await Promise.race([stopped, daemon.closed.then(() => 'closed')])
            if (signal === 'closed') {
              // Not a stop anyone asked for: exit 1 with the reason (the log has the node's error).
              const { StoreError } = await import('../../../core/errors.js')
              throw new StoreError('the daemon stopped: its node could not start again after a join; start `orbit serve` again', { code: 'NODE_RESTART_FAILED' })
            }
            ctx.hint(cmd, `${signal}: stopping...`)
          } finally {
            await daemon.stop()
          }
          ctx.emit(cmd, { event: 'stopped' }, () => 'Stopped.')
        }),
      )
  },
}
