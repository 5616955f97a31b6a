/**
 * Every command module of the CLI, in help order. To add commands, write a module exporting a
 * {@link CommandModule} in this folder and list it here.
 */
import type { CommandModule } from '../command-module.js'
import { initCommands } from './init.js'
import { contactCommands } from './contact.js'
import { orgCommands } from './org.js'
import { statusCommands } from './status.js'
import { serveCommands } from './serve.js'
import { pairCommands } from './pair.js'
import { peersCommands } from './peers.js'
import { deviceCommands } from './device.js'
import { syncCommands } from './sync.js'
import { qrCommands } from './qr.js'
import { webrtcCommands } from './webrtc.js'
import { uiCommands } from './ui.js'

export const COMMAND_MODULES: readonly CommandModule[] = [
  initCommands,
  contactCommands,
  orgCommands,
  statusCommands,
  serveCommands,
  pairCommands,
  peersCommands,
  deviceCommands,
  syncCommands,
  qrCommands,
  webrtcCommands,
  uiCommands,
]
