#include "cinevault/db/migrations.hpp"

#include <string>
#include <vector>

namespace cinevault::db {
namespace {

// Never edit a migration that has shipped: add the next one.
const std::vector<std::string>& migrations() {
  static const std::vector<std::string> list = {
      // 1: objects, videos, uploads, jobs, api keys.
      R"sql(
CREATE TABLE objects (
  sha256      TEXT PRIMARY KEY CHECK (length(sha256) = 64),
  size        INTEGER NOT NULL CHECK (size >= 0),
  kind        TEXT NOT NULL,              -- source, init, segment, image, text
  created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE videos (
  id              TEXT PRIMARY KEY,
  title           TEXT NOT NULL,
  description     TEXT NOT NULL DEFAULT '',
  tags            TEXT NOT NULL DEFAULT '[]',   -- JSON array of strings
  state           TEXT NOT NULL CHECK (state IN ('queued', 'processing', 'ready', 'failed')),
  source_sha256   TEXT NOT NULL REFERENCES objects(sha256),
  source_filename TEXT NOT NULL DEFAULT '',
  media_info      TEXT NOT NULL,                -- JSON: the probed facts
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);
CREATE INDEX videos_newest ON videos (created_at DESC, id DESC);
-- One video per source: the same bytes uploaded again answer the existing video.
CREATE UNIQUE INDEX videos_source ON videos (source_sha256);

CREATE TABLE uploads (
  id          TEXT PRIMARY KEY,
  length      INTEGER NOT NULL CHECK (length >= 0),
  offset      INTEGER NOT NULL DEFAULT 0 CHECK (offset >= 0 AND offset <= length),
  metadata    TEXT NOT NULL DEFAULT '{}',     -- JSON object of the decoded Upload-Metadata
  state       TEXT NOT NULL CHECK (state IN ('receiving', 'complete')),
  sha256      TEXT,                           -- set with the last byte, before the video is made
  video_id    TEXT REFERENCES videos(id) ON DELETE SET NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL
);
CREATE INDEX uploads_expiry ON uploads (expires_at);

CREATE TABLE jobs (
  id                INTEGER PRIMARY KEY,
  video_id          TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
  kind              TEXT NOT NULL,            -- transcode
  state             TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead', 'cancelled')),
  attempts          INTEGER NOT NULL DEFAULT 0,
  max_attempts      INTEGER NOT NULL DEFAULT 3,
  force_software    INTEGER NOT NULL DEFAULT 0,  -- a hardware encoder failed: retry with libx264
  not_before        INTEGER NOT NULL,         -- backoff: not claimed before this time
  lease_owner       TEXT,
  lease_expires_at  INTEGER,
  progress_percent  REAL NOT NULL DEFAULT 0,
  stage             TEXT NOT NULL DEFAULT '',
  fps               REAL,
  eta_s             REAL,
  error_class       TEXT CHECK (error_class IN ('input', 'codec', 'storage', 'hardware', 'internal')),
  error_message     TEXT,
  log_tail          TEXT,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL
);
CREATE INDEX jobs_claimable ON jobs (state, not_before);
CREATE INDEX jobs_video ON jobs (video_id);

CREATE TABLE api_keys (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  key_sha256    TEXT NOT NULL UNIQUE,
  created_at    INTEGER NOT NULL,
  last_used_at  INTEGER,
  revoked_at    INTEGER
);

-- Every column that holds an object's hash, so the garbage collector has one place to look.
CREATE VIEW object_references (sha256) AS
  SELECT source_sha256 FROM videos;
)sql",
      // 2: versions of a video and what they are made of: renditions and their segments.
      R"sql(
CREATE TABLE versions (
  id            INTEGER PRIMARY KEY,
  video_id      TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
  number        INTEGER NOT NULL,           -- 1, 2, … per video; part of manifest URLs
  job_id        INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
  state         TEXT NOT NULL CHECK (state IN ('building', 'complete')),
  segment_s     REAL NOT NULL,              -- the target segment duration
  encoder       TEXT NOT NULL DEFAULT '',
  superseded_at INTEGER,                    -- when another version was published in its place
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  UNIQUE (video_id, number)
);

CREATE TABLE renditions (
  id                      INTEGER PRIMARY KEY,
  version_id              INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
  name                    TEXT NOT NULL,    -- "720p", "audio_0"
  kind                    TEXT NOT NULL CHECK (kind IN ('video', 'audio')),
  codecs                  TEXT NOT NULL,
  width                   INTEGER NOT NULL DEFAULT 0,
  height                  INTEGER NOT NULL DEFAULT 0,
  frame_rate              REAL NOT NULL DEFAULT 0,
  bandwidth               INTEGER NOT NULL,
  average_bandwidth       INTEGER NOT NULL DEFAULT 0,
  language                TEXT NOT NULL DEFAULT '',
  channels                INTEGER NOT NULL DEFAULT 0,
  sample_rate             INTEGER NOT NULL DEFAULT 0,
  timescale               INTEGER NOT NULL,
  init_sha256             TEXT NOT NULL REFERENCES objects(sha256),
  finished                INTEGER NOT NULL DEFAULT 0,
  UNIQUE (version_id, name)
);

CREATE TABLE segments (
  rendition_id  INTEGER NOT NULL REFERENCES renditions(id) ON DELETE CASCADE,
  number        INTEGER NOT NULL,
  start         INTEGER NOT NULL,           -- in the rendition's timescale
  duration      INTEGER NOT NULL,
  size          INTEGER NOT NULL,
  sha256        TEXT NOT NULL REFERENCES objects(sha256),
  PRIMARY KEY (rendition_id, number)
) WITHOUT ROWID;
CREATE INDEX segments_object ON segments (sha256);
CREATE INDEX renditions_init ON renditions (init_sha256);

-- The version players get. NULL until one is playable.
ALTER TABLE videos ADD COLUMN published_version_id INTEGER REFERENCES versions(id) ON DELETE SET NULL;

DROP VIEW object_references;
CREATE VIEW object_references (sha256) AS
  SELECT source_sha256 FROM videos
  UNION ALL SELECT init_sha256 FROM renditions
  UNION ALL SELECT sha256 FROM segments;
)sql",
      // 3: still images of a version (poster, trickplay sheets and their WebVTT track), and
      // search over title, description and tags.
      R"sql(
CREATE TABLE thumbnails (
  version_id  INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
  kind        TEXT NOT NULL CHECK (kind IN ('poster', 'sprite', 'trickplay')),
  format      TEXT NOT NULL CHECK (format IN ('jpeg', 'webp', 'vtt')),
  number      INTEGER NOT NULL,           -- poster: its width; sprite: the sheet's index; trickplay: 0
  width       INTEGER NOT NULL,
  height      INTEGER NOT NULL,
  sha256      TEXT NOT NULL REFERENCES objects(sha256),
  PRIMARY KEY (version_id, kind, format, number)
) WITHOUT ROWID;
CREATE INDEX thumbnails_object ON thumbnails (sha256);

DROP VIEW object_references;
CREATE VIEW object_references (sha256) AS
  SELECT source_sha256 FROM videos
  UNION ALL SELECT init_sha256 FROM renditions
  UNION ALL SELECT sha256 FROM segments
  UNION ALL SELECT sha256 FROM thumbnails;

-- Substring search: the trigram tokenizer makes LIKE '%word%' an index lookup (for words of
-- three letters or more). One row per video, kept by triggers. (Keyed by the video's id, not
-- its rowid, which VACUUM may renumber.)
CREATE VIRTUAL TABLE video_search USING fts5(video_id UNINDEXED, text, tokenize = 'trigram');
INSERT INTO video_search (video_id, text) SELECT id, title || ' ' || description || ' ' || tags FROM videos;
CREATE TRIGGER video_search_insert AFTER INSERT ON videos BEGIN
  INSERT INTO video_search (video_id, text) VALUES (new.id, new.title || ' ' || new.description || ' ' || new.tags);
END;
CREATE TRIGGER video_search_update AFTER UPDATE OF title, description, tags ON videos BEGIN
  DELETE FROM video_search WHERE video_id = old.id;
  INSERT INTO video_search (video_id, text) VALUES (new.id, new.title || ' ' || new.description || ' ' || new.tags);
END;
CREATE TRIGGER video_search_delete AFTER DELETE ON videos BEGIN
  DELETE FROM video_search WHERE video_id = old.id;
END;
)sql",
      // 4: who opened each tus upload (the API key's id), for the per-key upload limits.
      R"sql(
ALTER TABLE uploads ADD COLUMN owner TEXT NOT NULL DEFAULT '';
)sql",
      // 5: two more error classes, of jobs whose media worker died: crashed (a signal such
      // as SIGSEGV or SIGSYS) and resource (over a budget, killed, or silent). A CHECK cannot
      // be altered: the table is copied (foreign keys are off while migrating).
      R"sql(
CREATE TABLE jobs_new (
  id                INTEGER PRIMARY KEY,
  video_id          TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
  kind              TEXT NOT NULL,
  state             TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead', 'cancelled')),
  attempts          INTEGER NOT NULL DEFAULT 0,
  max_attempts      INTEGER NOT NULL DEFAULT 3,
  force_software    INTEGER NOT NULL DEFAULT 0,
  not_before        INTEGER NOT NULL,
  lease_owner       TEXT,
  lease_expires_at  INTEGER,
  progress_percent  REAL NOT NULL DEFAULT 0,
  stage             TEXT NOT NULL DEFAULT '',
  fps               REAL,
  eta_s             REAL,
  error_class       TEXT CHECK (error_class IN ('input', 'crashed', 'resource', 'codec', 'storage', 'hardware',
                                                'internal')),
  error_message     TEXT,
  log_tail          TEXT,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL
);
INSERT INTO jobs_new SELECT * FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE INDEX jobs_claimable ON jobs (state, not_before);
CREATE INDEX jobs_video ON jobs (video_id);
)sql",
      // 6: the rendition a player starts on, and whose first segment publishes a building
      // version; for versions made before, the video rendition of least height (then least
      // bandwidth), the one manifests started on.
      R"sql(
ALTER TABLE renditions ADD COLUMN start INTEGER NOT NULL DEFAULT 0 CHECK (start IN (0, 1));
UPDATE renditions SET start = 1 WHERE id IN (
  SELECT (SELECT r.id FROM renditions AS r WHERE r.version_id = versions.id AND r.kind = 'video'
          ORDER BY r.height, r.bandwidth, r.name DESC LIMIT 1)
  FROM versions);
CREATE UNIQUE INDEX renditions_start ON renditions (version_id) WHERE start = 1;
)sql",
      // 7: people with a role and an Argon2id password hash (libsodium's string form);
      // names are unique whatever their case.
      R"sql(
CREATE TABLE users (
  id             INTEGER PRIMARY KEY,
  name           TEXT NOT NULL UNIQUE COLLATE NOCASE,
  role           TEXT NOT NULL CHECK (role IN ('admin', 'uploader', 'viewer')),
  password_hash  TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
);
)sql",
      // 8: every video has an owner and a visibility; API keys belong to users; sessions of
      // people signed in; watch progress; the key that signs share links. A data directory
      // from before accounts gets its first admin here (named admin, without a password,
      // which sign-in refuses until `cinevault users passwd admin`): its videos and keys
      // become that admin's, its videos visible to every signed-in user.
      R"sql(
INSERT INTO users (name, role, password_hash, created_at, updated_at)
  SELECT CASE WHEN EXISTS (SELECT 1 FROM users WHERE name = 'admin') THEN 'administrator' ELSE 'admin' END,
         'admin', '', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
  WHERE NOT EXISTS (SELECT 1 FROM users WHERE role = 'admin');

ALTER TABLE videos ADD COLUMN owner_id INTEGER REFERENCES users(id);
ALTER TABLE videos ADD COLUMN visibility TEXT NOT NULL DEFAULT 'library'
  CHECK (visibility IN ('private', 'unlisted', 'library', 'public'));
UPDATE videos SET owner_id = (SELECT min(id) FROM users WHERE role = 'admin');
CREATE INDEX videos_owner ON videos (owner_id, created_at DESC, id DESC);
-- The same bytes uploaded again by the same person answer their video; another person's
-- upload of them is a video of theirs.
DROP INDEX videos_source;
CREATE UNIQUE INDEX videos_source ON videos (source_sha256, owner_id);

ALTER TABLE api_keys ADD COLUMN user_id INTEGER REFERENCES users(id) ON DELETE CASCADE;
UPDATE api_keys SET user_id = (SELECT min(id) FROM users WHERE role = 'admin');
-- Unfinished uploads were owned by a key; now by its user (the id in decimal).
UPDATE uploads SET owner = coalesce((SELECT CAST(user_id AS TEXT) FROM api_keys WHERE api_keys.id = uploads.owner),
                                    (SELECT CAST(min(id) AS TEXT) FROM users WHERE role = 'admin'));

CREATE TABLE sessions (
  token_sha256  TEXT PRIMARY KEY,
  user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf_token    TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE watch_progress (
  user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  video_id    TEXT NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
  position_s  REAL NOT NULL CHECK (position_s >= 0),
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (user_id, video_id)
) WITHOUT ROWID;
CREATE INDEX watch_progress_recent ON watch_progress (user_id, updated_at DESC);
CREATE INDEX watch_progress_video ON watch_progress (video_id);

-- The newest row signs share links; rotating replaces it, so every link made before fails.
CREATE TABLE signing_keys (
  id          INTEGER PRIMARY KEY,
  secret      TEXT NOT NULL CHECK (length(secret) = 64),  -- 32 random bytes, hex
  created_at  INTEGER NOT NULL
);
)sql",
      // 9: files imported from people's library folders, so that an import that runs again
      // (or a watched folder's rescan at start) skips what it took or refused before
      // without reading the file again.
      R"sql(
CREATE TABLE library_files (
  owner_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  path        TEXT NOT NULL,
  size        INTEGER NOT NULL,
  mtime_ns    INTEGER NOT NULL,
  outcome     TEXT NOT NULL CHECK (outcome IN ('added', 'duplicate', 'refused')),
  video_id    TEXT REFERENCES videos(id) ON DELETE SET NULL,
  reason      TEXT NOT NULL DEFAULT '',   -- why it was refused
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (owner_id, path)
) WITHOUT ROWID;
CREATE INDEX library_files_video ON library_files (video_id);
)sql",
      // 10: a job's priority (0: a person's upload or a re-transcode; 1: a library import),
      // claimed in that order first; and when its current attempt started, so that the speed
      // of recent transcodes can tell how long the imports still waiting will take.
      R"sql(
ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0 CHECK (priority >= 0);
ALTER TABLE jobs ADD COLUMN started_at INTEGER;
DROP INDEX jobs_claimable;
CREATE INDEX jobs_claimable ON jobs (state, priority, not_before);
)sql",
  };
  return list;
}

}  // namespace

int latest_schema_version() { return static_cast<int>(migrations().size()); }

Result<int> current_schema_version(Connection& connection) {
  TRY(auto stmt, connection.prepare("PRAGMA user_version"));
  TRY(bool row, stmt.step());
  return row ? static_cast<int>(stmt.int64(0)) : 0;
}

Result<void> migrate(Connection& connection) {
  TRY(int version, current_schema_version(connection));
  if (version > latest_schema_version())
    return fail(ErrorCode::database, "the database has schema version " + std::to_string(version) +
                                         ", newer than this binary knows (" +
                                         std::to_string(latest_schema_version()) + ")");
  if (version == latest_schema_version()) return {};
  // A migration that copies a table drops the old one; with foreign keys on, that would
  // delete or null every row referring to it (SQLite's documented procedure: off, migrate,
  // check, on; the pragma has no effect inside a transaction, so it is set here).
  RETURN_IF_ERROR(connection.exec("PRAGMA foreign_keys=OFF"));
  for (int next = version + 1; next <= latest_schema_version(); ++next) {
    RETURN_IF_ERROR(connection.exec("BEGIN IMMEDIATE"));
    auto applied = connection.exec(migrations()[static_cast<std::size_t>(next - 1)])
                       .and_then([&] { return connection.exec("PRAGMA user_version = " + std::to_string(next)); })
                       .and_then([&] { return connection.exec("COMMIT"); });
    if (!applied) {
      (void)connection.exec("ROLLBACK");
      (void)connection.exec("PRAGMA foreign_keys=ON");
      return fail(ErrorCode::database, "migration " + std::to_string(next) + " failed: " + applied.error().message);
    }
  }
  TRY(auto check, connection.prepare("PRAGMA foreign_key_check"));
  TRY(bool broken, check.step());
  RETURN_IF_ERROR(connection.exec("PRAGMA foreign_keys=ON"));
  if (broken) return fail(ErrorCode::database, "after migrating, a row refers to one that does not exist");
  return {};
}

}  // namespace cinevault::db
