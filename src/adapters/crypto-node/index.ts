export { nodeChaChaPoly } from './chacha-poly.js'
