import { setFlagsFromString } from 'node:v8'

// Imported first by main.ts, so it runs before any other module is evaluated.
//
// Allocation-site pretenuring off: V8 allocates objects from a "site" straight into the old generation
// once most of them have survived young collections. An accepted request's objects (the request, the reply,
// the pending publish) live for the store's round trip; during a GC pause that round trip stretches, they
// survive, their sites get pretenured, and from then on every request fills the old generation: a
// mark-compact every ~130 ms, 31 % of the CPU in GC, 36-39 µs per accepted job instead of 20-21 until the
// process exits. It hit about one run in eight under load (docs/performance-log.md, "the slow state");
// with pretenuring off, none did. The flag is not allowed in NODE_OPTIONS, hence here; V8 reads it each
// time it decides, so setting it before the first request is enough.
setFlagsFromString('--no-allocation-site-pretenuring')
