/** A client may pass its own request id for tracing; an odd one is replaced (with a NUID) rather than logged. */
export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/
