// The repository the people-and-sessions service needs (async, one adapter per engine).
import type { ClientRow, SessionRow, UserRow, UserTokenRow } from './rows';

export type { SessionRow, UserRow, UserTokenRow };

export interface SessionWithOwner {
  session: SessionRow;
  user: UserRow;
  client: ClientRow;
}

export interface UsersRepo {
  insertUser(row: UserRow): Promise<void>;
  getUser(userId: string): Promise<UserRow | undefined>;
  findUserByEmail(email: string): Promise<UserRow | undefined>;
  listUsers(clientId: string): Promise<UserRow[]>;
  /** Deletes the person with their sessions and tokens; false when there was none. */
  deleteUser(userId: string): Promise<boolean>;

  /** Replaces the person's open tokens with this one (one valid link at a time). */
  replaceToken(row: UserTokenRow): Promise<void>;
  /** Takes the token if it is unexpired at `now` and deletes it, atomically: a token works once. */
  takeToken(tokenHash: string, now: number): Promise<UserTokenRow | undefined>;
  /** Sets the password and ends every session of the person, in one transaction. */
  setPassword(userId: string, passwordHash: string): Promise<void>;

  insertSession(row: SessionRow): Promise<void>;
  findSession(idHash: string): Promise<SessionWithOwner | undefined>;
  touchSession(idHash: string, lastSeenAt: number): Promise<void>;
  deleteSession(idHash: string): Promise<void>;
}
