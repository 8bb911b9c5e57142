// The idempotency port on SQLite: the claim is one IMMEDIATE transaction (read, then insert or replace),
// so two claimants of one key — in this process or another — cannot both win.
import type { IdempotencyRepo } from '../ports/idempotency';
import type { IdempotencyRow } from '../ports/rows';
import type { Conn } from './conn';
import { idempotencyKeys } from './schema';
import { tableSql } from './tables';

const t = tableSql(idempotencyKeys);
const FIND = `SELECT ${t.select()} FROM idempotency_keys WHERE client_id = ? AND key = ?`;
const CLAIM = `INSERT INTO idempotency_keys (client_id, key, request_hash, state, response_status, response_body, created_at)
  VALUES (@clientId, @key, @requestHash, 'running', NULL, NULL, @at)
  ON CONFLICT (client_id, key) DO UPDATE SET request_hash = excluded.request_hash, state = 'running',
    response_status = NULL, response_body = NULL, created_at = excluded.created_at`;
// Expired records are pruned a few at a time by the claims that create new ones (idempotency_created_idx),
// so the table stays at about one day of keys without a sweeper.
const PRUNE = 'DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE created_at < ? LIMIT 10)';
const COMPLETE = "UPDATE idempotency_keys SET state = 'done', response_status = ?, response_body = ? WHERE client_id = ? AND key = ?";
const RELEASE = "DELETE FROM idempotency_keys WHERE client_id = ? AND key = ? AND state = 'running'";

export function sqliteIdempotency(c: Conn): IdempotencyRepo {
  const { s } = c;
  return {
    claim: (claim, rules) =>
      c.write(() => {
        const found = s.get(FIND).get(claim.clientId, claim.key) as IdempotencyRow | undefined;
        const live =
          found !== undefined &&
          found.createdAt >= rules.expiredBefore &&
          !(found.state === 'running' && found.createdAt < rules.staleRunningBefore);
        if (found && live) return { claimed: false, existing: found } as const;
        s.get(CLAIM).run(claim);
        s.get(PRUNE).run(rules.expiredBefore);
        return { claimed: true } as const;
      }),
    complete: (clientId, key, status, body) => c.write(() => void s.get(COMPLETE).run(status, body, clientId, key)),
    release: (clientId, key) => c.write(() => void s.get(RELEASE).run(clientId, key)),
  };
}
