import { natsCredentialProblems, type NatsCredentialPieces } from '@sluice/core'
import { describe, expect, it } from 'vitest'

// The Secret keys a QueueScaler's credentials use; the apps pass their NATS_* names the same way.
const names = { user: 'user', password: 'password', token: 'token', creds: 'creds', clientCert: 'tls.crt', clientKey: 'tls.key' }

describe('nats credentials', () => {
  const cases: { why: string; pieces: NatsCredentialPieces; problems: string[] }[] = [
    // No authentication at all: the server decides whether that is enough.
    { why: 'nothing', pieces: {}, problems: [] },
    { why: 'one method each', pieces: { user: 'u', password: 'p', clientCert: 'c', clientKey: 'k' }, problems: [] },
    { why: 'token alone', pieces: { token: 't' }, problems: [] },
    // A password counts as the user/password method even without its user.
    {
      why: 'two methods',
      pieces: { password: 'p', creds: 'c' },
      problems: ['more than one of user/password, token and creds: they are alternatives, keep one', 'password without user: the two must be set together'],
    },
    { why: 'a user without a password', pieces: { user: 'u' }, problems: ['user without password: the two must be set together'] },
    { why: 'a key without its certificate', pieces: { clientKey: 'k' }, problems: ['tls.key without tls.crt: a client certificate needs both'] },
  ]
  for (const { why, pieces, problems } of cases) {
    it(`nats credentials - ${why}: ${problems.length === 0 ? 'usable' : 'named problems'}`, () => {
      expect(natsCredentialProblems(pieces, names)).toEqual(problems)
    })
  }
})
