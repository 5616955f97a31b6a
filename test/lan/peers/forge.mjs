// Sends one hand-made mDNS announcement for _crmorbit._tcp on lan0, then exits. The TXT strings
// come from argv (JSON): { ip, instance, port, txt: [string] }. Used to check that a malformed TXT
// record is dropped by every listener.
import makeMdns from 'multicast-dns'

const { ip, instance, port, txt } = JSON.parse(process.argv[2])
const mdns = makeMdns({ interface: ip, bind: '0.0.0.0', loopback: false })
mdns.on('ready', () => {
  const name = `${instance}._crmorbit._tcp.local`
  mdns.respond(
    {
      answers: [
        { name: '_crmorbit._tcp.local', type: 'PTR', ttl: 120, data: name },
        { name, type: 'SRV', ttl: 120, data: { port, target: `${instance}.local` } },
        { name, type: 'TXT', ttl: 120, data: txt },
        { name: `${instance}.local`, type: 'A', ttl: 120, data: ip },
      ],
    },
    () => mdns.destroy(() => process.stdout.write('{"event":"sent"}\n')),
  )
})
