// The idempotency port on SQLite: the claim runs inside the create's IMMEDIATE transaction (read, then
// insert or replace), so two claimants of one key — in this process or another — cannot both win.
import type { IdempotencyRepo } from '../ports/idempotency';
import type { IdempotencyRow } from '../ports/rows';
import type { Conn } from './conn';
import { idempotencyKeys } from './schema';
import { tableSql } from './tables';

const t = tableSql(idempotencyKeys);
const FIND = `SELECT ${t.select()} FROM idempotency_keys WHERE client_id = ? AND key = ?`;
const CLAIM = `INSERT INTO idempotency_keys (client_id, key, request_hash, state, response_status, response_body, created_at)
  VALUES (@clientId, @key, @requestHash, 'done', @status, @body, @at)
  ON CONFLICT (client_id, key) DO UPDATE SET request_hash = excluded.request_hash, state = 'done',
    response_status = excluded.response_status, response_body = excluded.response_body, created_at = excluded.created_at`;
// Expired records are pruned a few at a time by the claims that create new ones (idempotency_created_idx),
// so the table stays at about one day of keys without a sweeper.
const PRUNE = 'DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE created_at < ? LIMIT 10)';

export function sqliteIdempotency(c: Conn): IdempotencyRepo {
  const { s } = c;
  return {
    find: (clientId, key) => c.read(() => s.get(FIND).get(clientId, key) as IdempotencyRow | undefined),
    claim: (record, rules) =>
      c.write(() => {
        const found = s.get(FIND).get(record.clientId, record.key) as IdempotencyRow | undefined;
        const live =
          found !== undefined &&
          found.createdAt >= rules.expiredBefore &&
          !(found.state === 'running' && found.createdAt < rules.staleRunningBefore);
        if (found && live) return { claimed: false, existing: found } as const;
        s.get(CLAIM).run(record);
        s.get(PRUNE).run(rules.expiredBefore);
        return { claimed: true } as const;
      }),
  };
}
