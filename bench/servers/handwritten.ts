// What GET /v1/leads/{id} is by hand: the key looked up by its hash, the lead by id within the key's
// client, the same JSON. Shared by the raw node:http and the express baselines.
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';

export function openLookup(path: string) {
  const db = new Database(path, { readonly: true });
  db.pragma('journal_mode = WAL');
  const keyStmt = db.prepare('SELECT client_id FROM api_keys WHERE token_hash = ? AND revoked_at IS NULL');
  const leadStmt = db.prepare('SELECT * FROM leads WHERE id = ? AND client_id = ? AND deleted_at IS NULL');
  return (authorization: string | undefined, id: string): { status: number; body: unknown } => {
    const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : '';
    const key = keyStmt.get(createHash('sha256').update(token).digest('hex')) as { client_id: string } | undefined;
    if (!key) return { status: 401, body: { error: { code: 'UNAUTHORIZED', message: 'Invalid API key' } } };
    const r = leadStmt.get(id, key.client_id) as Record<string, string | number | null> | undefined;
    if (!r) return { status: 404, body: { error: { code: 'NOT_FOUND', message: 'Lead not found' } } };
    const iso = (v: unknown) => (typeof v === 'number' ? new Date(v).toISOString() : null);
    return {
      status: 200,
      body: {
        id: r.id, bot_id: r.bot_id, client_id: r.client_id, status: r.status, name: r.name, phone: r.phone, email: r.email,
        interest: r.interest, source: r.source, metadata: JSON.parse(String(r.metadata)), created_at: iso(r.created_at),
        updated_at: iso(r.updated_at), qualified_at: iso(r.qualified_at), booked_at: iso(r.booked_at),
      },
    };
  };
}
