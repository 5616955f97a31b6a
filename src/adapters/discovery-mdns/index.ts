export { createMdnsDiscovery, endpointsOf, type MdnsDiscoveryOptions, type IntervalTimers, type Endpoint, type MdnsPeer } from './mdns-discovery.js'
export { createMultiMdnsDiscovery, DEFAULT_POLL_INTERVAL_MS, type MultiMdnsDiscovery, type MultiMdnsDiscoveryOptions, type NetworkChange, type DiscoveryInterfaces } from './multi.js'
export { selectInterfaces, resolvePin, currentSelection, readInterfaceFlags, isPrivateIpv4, looksLikeIpv4, IFF, type ChosenInterface, type InterfaceSelection, type InterfaceList, type InterfaceFlags, type RejectReason } from './interfaces.js'
