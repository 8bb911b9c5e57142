// SQLite adapter of UsersRepo. Synchronous inside; hands back settled promises.
import { and, asc, eq, gt } from 'drizzle-orm';
import type { DbOrTx } from './connection';
import type { UsersRepo } from '../ports/users';
import { clients, sessions, users, userTokens } from './schema';

export function sqliteUsersRepo(db: DbOrTx): UsersRepo {
  return {
    async insertUser(row) {
      db.insert(users).values(row).run();
    },
    async getUser(userId) {
      return db.select().from(users).where(eq(users.id, userId)).get();
    },
    async findUserByEmail(email) {
      return db.select().from(users).where(eq(users.email, email)).get();
    },
    async listUsers(clientId) {
      return db.select().from(users).where(eq(users.clientId, clientId)).orderBy(asc(users.createdAt), asc(users.id)).all();
    },
    async deleteUser(userId) {
      return db.transaction((tx) => {
        tx.delete(sessions).where(eq(sessions.userId, userId)).run();
        tx.delete(userTokens).where(eq(userTokens.userId, userId)).run();
        return tx.delete(users).where(eq(users.id, userId)).run().changes > 0;
      });
    },
    async replaceToken(row) {
      db.transaction((tx) => {
        tx.delete(userTokens).where(eq(userTokens.userId, row.userId)).run();
        tx.insert(userTokens).values(row).run();
      });
    },
    async takeToken(tokenHash, now) {
      // DELETE … RETURNING: of two concurrent uses, only one gets the row.
      return db
        .delete(userTokens)
        .where(and(eq(userTokens.tokenHash, tokenHash), gt(userTokens.expiresAt, now)))
        .returning()
        .get();
    },
    async setPassword(userId, passwordHash) {
      db.transaction((tx) => {
        tx.update(users).set({ passwordHash }).where(eq(users.id, userId)).run();
        tx.delete(sessions).where(eq(sessions.userId, userId)).run();
      });
    },
    async insertSession(row) {
      db.insert(sessions).values(row).run();
    },
    async findSession(idHash) {
      return db
        .select({ session: sessions, user: users, client: clients })
        .from(sessions)
        .innerJoin(users, eq(users.id, sessions.userId))
        .innerJoin(clients, eq(clients.id, users.clientId))
        .where(eq(sessions.idHash, idHash))
        .get();
    },
    async touchSession(idHash, lastSeenAt) {
      db.update(sessions).set({ lastSeenAt }).where(eq(sessions.idHash, idHash)).run();
    },
    async deleteSession(idHash) {
      db.delete(sessions).where(eq(sessions.idHash, idHash)).run();
    },
  };
}
