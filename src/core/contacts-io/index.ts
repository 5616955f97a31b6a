/**
 * Contact files in and out (`orbit contact import` / `export`): strict UTF-8 decoding, a streaming
 * CSV tokenizer and header mapping, a streaming vCard 3.0/4.0 parser, validation with the model's
 * rules, duplicate detection by email, and the export writers. Platform-free: the caller supplies
 * the bytes (any AsyncIterable of Uint8Array) and checks photos as images.
 */
export * from './text.js'
export * from './csv.js'
export * from './csv-contacts.js'
export * from './vcard.js'
export * from './draft.js'
export * from './read.js'
