// The people-and-sessions port on PostgreSQL.
import type { ClientRow, SessionRow, UserRow, UserTokenRow } from '../ports/rows';
import type { UsersRepo } from '../ports/users';
import * as schema from './schema';
import { first, rowParams, tableSql, unprefix, type Conn } from './sql';

const U = tableSql(schema.users);
const T = tableSql(schema.userTokens);
const S = tableSql(schema.sessions);
const CL = tableSql(schema.clients);

export function pgUsers(c: Conn): UsersRepo {
  return {
    insertUser: async (row) => void (await c.run(U.insert, rowParams(U, row))),
    getUser: async (id) => first(await c.read<UserRow>(`SELECT ${U.select()} FROM users WHERE id = @id`, { id })),
    findUserByEmail: async (email) => first(await c.read<UserRow>(`SELECT ${U.select()} FROM users WHERE email = @email`, { email })),
    listUsers: (clientId) => c.read<UserRow>(`SELECT ${U.select()} FROM users WHERE client_id = @clientId ORDER BY created_at, id`, { clientId }),
    deleteUser: (userId) =>
      c.atomic(async (tx) => {
        await tx.run('DELETE FROM sessions WHERE user_id = @userId', { userId });
        await tx.run('DELETE FROM user_tokens WHERE user_id = @userId', { userId });
        return (await tx.run('DELETE FROM users WHERE id = @userId', { userId })) > 0;
      }),
    replaceToken: (row) =>
      c.atomic(async (tx) => {
        await tx.run('DELETE FROM user_tokens WHERE user_id = @userId', { userId: row.userId });
        await tx.run(T.insert, rowParams(T, row));
      }),
    takeToken: async (tokenHash, now) =>
      first(await c.rows<UserTokenRow>(`DELETE FROM user_tokens WHERE token_hash = @tokenHash AND expires_at > @now RETURNING ${T.select()}`, { tokenHash, now })),
    setPassword: (userId, passwordHash) =>
      c.atomic(async (tx) => {
        await tx.run('UPDATE users SET password_hash = @passwordHash WHERE id = @userId', { userId, passwordHash });
        await tx.run('DELETE FROM sessions WHERE user_id = @userId', { userId });
      }),
    insertSession: async (row) => void (await c.run(S.insert, rowParams(S, row))),
    findSession: async (idHash) => {
      const raw = first(
        await c.read<Record<string, unknown>>(
          `SELECT ${S.select('s', 's_')}, ${U.select('u', 'u_')}, ${CL.select('c', 'c_')}
           FROM sessions s JOIN users u ON u.id = s.user_id JOIN clients c ON c.id = u.client_id WHERE s.id_hash = @idHash`,
          { idHash },
        ),
      );
      return raw === undefined ? undefined : { session: unprefix<SessionRow>(S, raw, 's_'), user: unprefix<UserRow>(U, raw, 'u_'), client: unprefix<ClientRow>(CL, raw, 'c_') };
    },
    touchSession: async (idHash, lastSeenAt) => void (await c.run('UPDATE sessions SET last_seen_at = @lastSeenAt WHERE id_hash = @idHash', { idHash, lastSeenAt })),
    deleteSession: async (idHash) => void (await c.run('DELETE FROM sessions WHERE id_hash = @idHash', { idHash })),
  };
}
