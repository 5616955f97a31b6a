export { createMdnsDiscovery, type MdnsDiscoveryOptions, type IntervalTimers } from './mdns-discovery.js'
