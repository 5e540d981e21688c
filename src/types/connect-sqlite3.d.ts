declare module 'connect-sqlite3' {
  import type session from 'express-session';
  interface StoreOptions {
    db?: string;
    dir?: string;
    table?: string;
    concurrentDb?: boolean;
    createDirIfNotExists?: boolean;
  }
  export default function connectSqlite3(s: typeof session): new (options?: StoreOptions) => session.Store;
}
