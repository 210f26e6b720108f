-- labeldesk project store, step 6 -> 7: users' signing keys, and the share's segments merged here.

-- Public keys a replica accepts segment signatures from. Materialised from key.enrol / key.revoke
-- ops, except the founding admin's key, which the project marker pins (enrolled_by_op NULL).
CREATE TABLE user_keys (
  key_id TEXT PRIMARY KEY,           -- first 32 hex digits of SHA-256 of the raw public key
  user_id TEXT NOT NULL,
  public_key TEXT NOT NULL,          -- base64 of the raw 32-byte Ed25519 public key
  enrolled_by_op TEXT,
  revoked_by_op TEXT,
  revoked_cut TEXT                   -- JSON {device id: last seq whose segments stay accepted}
);
CREATE INDEX user_keys_by_user ON user_keys(user_id);

-- Segments merged from the share: a file that changes afterwards is noticed (size and mtime
-- first, the hash when they differ).
CREATE TABLE sync_segments (
  dev TEXT NOT NULL,
  name TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  key_id TEXT,
  PRIMARY KEY (dev, name)
);
