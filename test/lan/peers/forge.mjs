// Sends one hand-made mDNS announcement for _crmorbit._tcp from the interface with address `ip`,
// then exits. Argv (JSON): { ip, instance, port, txt: [string], a?: string } — `a` is the address
// the A record names (default `ip`: a forger may name someone else's). Used to check that a
// malformed TXT record is dropped by every listener, and that a forged claim renames nothing.
import makeMdns from 'multicast-dns'

const { ip, instance, port, txt, a } = JSON.parse(process.argv[2])
const mdns = makeMdns({ interface: ip, bind: '0.0.0.0', loopback: false })
mdns.on('ready', () => {
  const name = `${instance}._crmorbit._tcp.local`
  mdns.respond(
    {
      answers: [
        { name: '_crmorbit._tcp.local', type: 'PTR', ttl: 120, data: name },
        { name, type: 'SRV', ttl: 120, data: { port, target: `${instance}.local` } },
        { name, type: 'TXT', ttl: 120, data: txt },
        { name: `${instance}.local`, type: 'A', ttl: 120, data: a ?? ip },
      ],
    },
    () => mdns.destroy(() => process.stdout.write('{"event":"sent"}\n')),
  )
})
