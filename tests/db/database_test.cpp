#include "cinevault/db/database.hpp"

#include <filesystem>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "cinevault/core/hash.hpp"
#include "cinevault/db/api_keys.hpp"
#include "cinevault/db/jobs.hpp"
#include "cinevault/db/library_files.hpp"
#include "cinevault/db/migrations.hpp"
#include "cinevault/db/objects.hpp"
#include "cinevault/db/uploads.hpp"
#include "cinevault/db/sessions.hpp"
#include "cinevault/db/users.hpp"
#include "cinevault/db/versions.hpp"
#include "cinevault/db/videos.hpp"
#include "scratch_dir.hpp"

namespace cinevault::db {
namespace {

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Database::open(dir_ / "test.db");
    ASSERT_TRUE(opened) << opened.error().message;
    db_ = std::move(*opened);
  }

  VideoRow video(const std::string& id, std::int64_t created, const std::string& sha) {
    VideoRow v;
    v.id = id;
    v.title = "t-" + id;
    v.state = VideoState::queued;
    v.source_sha256 = sha;
    v.media_info_json = "{}";
    v.created_at_ms = v.updated_at_ms = created;
    v.owner_id = 1;  // the schema's first admin
    return v;
  }

  // Takes a database back to schema 7, as the release before accounts left it: no owners or
  // visibility, keys of no one, no sessions, progress or signing key, no users, no library
  // files, no job priorities. On a raw
  // connection with foreign keys off, as SQLite's table rebuild asks.
  static void undo_accounts(Connection& raw) {
    auto undone = raw.exec(
        "PRAGMA foreign_keys=OFF; PRAGMA legacy_alter_table=ON;"
        "DROP INDEX jobs_claimable; ALTER TABLE jobs DROP COLUMN priority; ALTER TABLE jobs DROP COLUMN started_at;"
        "CREATE INDEX jobs_claimable ON jobs (state, not_before);"
        "DROP TABLE library_files;"
        "DROP TABLE sessions; DROP TABLE watch_progress; DROP TABLE signing_keys;"
        "CREATE TABLE videos_7 (id TEXT PRIMARY KEY, title TEXT NOT NULL, description TEXT NOT NULL DEFAULT '', "
        "  tags TEXT NOT NULL DEFAULT '[]', state TEXT NOT NULL, source_sha256 TEXT NOT NULL REFERENCES objects(sha256), "
        "  source_filename TEXT NOT NULL DEFAULT '', media_info TEXT NOT NULL, created_at INTEGER NOT NULL, "
        "  updated_at INTEGER NOT NULL, published_version_id INTEGER REFERENCES versions(id) ON DELETE SET NULL);"
        "INSERT INTO videos_7 SELECT id, title, description, tags, state, source_sha256, source_filename, "
        "  media_info, created_at, updated_at, published_version_id FROM videos;"
        "DROP TABLE videos; ALTER TABLE videos_7 RENAME TO videos;"
        "CREATE INDEX videos_newest ON videos (created_at DESC, id DESC);"
        "CREATE UNIQUE INDEX videos_source ON videos (source_sha256);"
        "CREATE TABLE api_keys_7 (id TEXT PRIMARY KEY, name TEXT NOT NULL, key_sha256 TEXT NOT NULL UNIQUE, "
        "  created_at INTEGER NOT NULL, last_used_at INTEGER, revoked_at INTEGER);"
        "INSERT INTO api_keys_7 SELECT id, name, key_sha256, created_at, last_used_at, revoked_at FROM api_keys;"
        "DROP TABLE api_keys; ALTER TABLE api_keys_7 RENAME TO api_keys;"
        "DELETE FROM users; PRAGMA user_version = 7;");
    ASSERT_TRUE(undone) << undone.error().message;
  }

  std::unique_ptr<Connection> raw_connection() {
    db_.reset();
    auto raw = Connection::open((dir_ / "test.db").string(), false);
    EXPECT_TRUE(raw);
    return raw ? std::move(*raw) : nullptr;
  }

  void reopen() {
    auto reopened = Database::open(dir_ / "test.db");
    ASSERT_TRUE(reopened) << reopened.error().message;
    db_ = std::move(*reopened);
  }

  void add_video(const std::string& id, std::int64_t created) {
    std::string sha = sha256_hex(id);
    auto added = db_->write([&](Connection& c) -> Result<void> {
      RETURN_IF_ERROR(insert_object(c, {sha, 10, "source"}));
      return insert_video(c, video(id, created, sha));
    });
    ASSERT_TRUE(added) << added.error().message;
  }

  test_support::ScratchDir dir_{"db"};
  std::unique_ptr<Database> db_;
};

TEST_F(DatabaseTest, MigratesToTheLatestVersionAndReopens) {
  EXPECT_EQ(db_->schema_version(), latest_schema_version());
  db_.reset();
  auto reopened = Database::open(dir_ / "test.db");
  ASSERT_TRUE(reopened);
  EXPECT_EQ((*reopened)->schema_version(), latest_schema_version());
}

// Schema 5 copies the jobs table to widen its error classes: the jobs, and the versions that
// name them, come through; the new classes are accepted.
TEST_F(DatabaseTest, MigrationFrom4KeepsJobsAndTheVersionsThatNameThem) {
  add_video("v1", 1);
  auto made = db_->write([](Connection& c) -> Result<std::int64_t> {
    TRY(std::int64_t job, enqueue_job(c, "v1", "transcode", JobPriority::person));
    RETURN_IF_ERROR(create_version(c, "v1", job, 4.0, ""));
    return job;
  });
  ASSERT_TRUE(made) << made.error().message;
  // Back to schema 4's jobs table (its CHECK knew five classes) and renditions table (no
  // start column), and no users table, as a database of that release.
  auto raw = raw_connection();
  ASSERT_TRUE(raw);
  undo_accounts(*raw);
  ASSERT_TRUE([](Connection& c) -> Result<void> {
    RETURN_IF_ERROR(c.exec("DROP TABLE users; DROP INDEX renditions_start; ALTER TABLE renditions DROP COLUMN start"));
    TRY(auto stmt, c.prepare("SELECT sql FROM sqlite_schema WHERE name = 'jobs'"));
    TRY(bool row, stmt.step());
    if (!row) return fail(ErrorCode::internal, "no jobs table");
    std::string sql = stmt.text(0);
    auto at = sql.find("'input', 'crashed', 'resource',");
    if (at == std::string::npos) return fail(ErrorCode::internal, "schema 5's CHECK not found: " + sql);
    sql.replace(at, std::string("'input', 'crashed', 'resource',").size(), "'input',");
    sql = "CREATE TABLE jobs_old " + sql.substr(sql.find('('));  // the stored name may be quoted
    RETURN_IF_ERROR(c.exec(sql));
    RETURN_IF_ERROR(c.exec("INSERT INTO jobs_old SELECT * FROM jobs"));
    return c.exec("PRAGMA user_version = 4");
  }(*raw));
  ASSERT_TRUE(raw->exec("DROP TABLE jobs; ALTER TABLE jobs_old RENAME TO jobs; "
                        "CREATE INDEX jobs_claimable ON jobs (state, not_before); "
                        "CREATE INDEX jobs_video ON jobs (video_id);"));
  raw.reset();
  reopen();
  EXPECT_EQ(db_->schema_version(), latest_schema_version());
  auto linked = db_->read([](Connection& c) -> Result<std::int64_t> {
    TRY(auto stmt, c.prepare("SELECT count(*) FROM versions JOIN jobs ON jobs.id = versions.job_id"));
    TRY(bool row, stmt.step());
    return row ? stmt.int64(0) : 0;
  });
  ASSERT_TRUE(linked);
  EXPECT_EQ(*linked, 1);
  auto crashed = db_->write([&](Connection& c) {
    return c.exec("UPDATE jobs SET error_class = 'crashed' WHERE id = " + std::to_string(*made));
  });
  EXPECT_TRUE(crashed) << crashed.error().message;
}

// Schema 6 marks the rendition players start on: in versions made before, the video
// rendition of least height, the one manifests started on.
TEST_F(DatabaseTest, MigrationFrom5MarksTheSmallestVideoRenditionStart) {
  add_video("v1", 1);
  auto made = db_->write([](Connection& c) -> Result<std::vector<std::int64_t>> {
    RETURN_IF_ERROR(insert_object(c, {sha256_hex("init"), 4, "init"}));
    auto add = [&](std::int64_t version, const std::string& name, TrackKind kind, int height) {
      Rendition r;
      r.name = name;
      r.kind = kind;
      r.codecs = kind == TrackKind::video ? "avc1.64001f" : "mp4a.40.2";
      r.height = height;
      r.bandwidth_bps = 1000;
      r.timescale = 90000;
      r.init_sha256 = sha256_hex("init");
      return insert_rendition(c, version, r);
    };
    std::vector<std::int64_t> versions;
    for (int i = 0; i < 3; ++i) {
      TRY(VersionRow version, create_version(c, "v1", std::nullopt, 4.0, ""));
      versions.push_back(version.id);
    }
    RETURN_IF_ERROR(add(versions[0], "720p", TrackKind::video, 720));
    RETURN_IF_ERROR(add(versions[0], "audio_0", TrackKind::audio, 0));
    RETURN_IF_ERROR(add(versions[0], "240p", TrackKind::video, 240));
    RETURN_IF_ERROR(add(versions[0], "480p", TrackKind::video, 480));
    RETURN_IF_ERROR(add(versions[1], "1080p", TrackKind::video, 1080));
    RETURN_IF_ERROR(add(versions[2], "audio_0", TrackKind::audio, 0));
    return versions;
  });
  ASSERT_TRUE(made) << made.error().message;
  auto raw = raw_connection();
  ASSERT_TRUE(raw);
  undo_accounts(*raw);
  ASSERT_TRUE(raw->exec("DROP TABLE users; DROP INDEX renditions_start; ALTER TABLE renditions DROP COLUMN start; "
                        "PRAGMA user_version = 5"));
  raw.reset();
  reopen();
  EXPECT_EQ(db_->schema_version(), latest_schema_version());

  auto starts = [&](std::int64_t id) {
    auto version = db_->read([&](Connection& c) { return load_version(c, id); });
    std::vector<std::string> names;
    if (!version || !*version) return std::vector<std::string>{"(not loaded)"};
    for (const Rendition& r : (*version)->renditions)
      if (r.start) names.push_back(r.name);
    return names;
  };
  EXPECT_EQ(starts((*made)[0]), std::vector<std::string>{"240p"});
  EXPECT_EQ(starts((*made)[1]), std::vector<std::string>{"1080p"});
  EXPECT_EQ(starts((*made)[2]), std::vector<std::string>{}) << "no video, no start";

  // One start rendition per version.
  auto second = db_->write([&](Connection& c) {
    return c.exec("UPDATE renditions SET start = 1 WHERE name = '720p'");
  });
  EXPECT_FALSE(second);
}

// Schema 8 upgrades a library of the release before accounts in place: its videos belong to
// the first admin (made here, without a password) and every signed-in user may watch them,
// its keys keep working as that admin's, unfinished uploads are that admin's; nothing is lost.
TEST_F(DatabaseTest, MigrationFrom7GivesEverythingToTheFirstAdmin) {
  add_video("v1", 1);
  add_video("v2", 2);
  auto key = db_->write([](Connection& c) { return create_api_key(c, "admin", 1); });
  ASSERT_TRUE(key);
  UploadRow upload;
  upload.id = "u1";
  upload.length = 10;
  upload.expires_at_ms = 5000;
  upload.owner = key->row.id;  // the previous release kept the key's id
  ASSERT_TRUE(db_->write([&](Connection& c) { return insert_upload(c, upload); }));
  auto raw = raw_connection();
  ASSERT_TRUE(raw);
  undo_accounts(*raw);
  raw.reset();
  reopen();
  EXPECT_EQ(db_->schema_version(), latest_schema_version());

  auto admin = db_->read([](Connection& c) { return first_admin(c); });
  ASSERT_TRUE(admin && *admin);
  EXPECT_EQ((*admin)->name, "admin");
  EXPECT_FALSE((*admin)->has_password) << "signing in waits for cinevault users passwd admin";
  auto page = db_->read([](Connection& c) { return list_videos(c, {true, std::nullopt}, 10, std::nullopt); });
  ASSERT_TRUE(page);
  ASSERT_EQ(page->videos.size(), 2u);
  for (const VideoRow& v : page->videos) {
    EXPECT_EQ(v.owner_id, (*admin)->id);
    EXPECT_EQ(v.visibility, Visibility::library);
  }
  auto holder = db_->read([&](Connection& c) { return find_live_key(c, key->secret); });
  ASSERT_TRUE(holder && *holder) << "the admin key still works";
  EXPECT_EQ((*holder)->user.id, (*admin)->id);
  auto kept = db_->read([](Connection& c) { return find_upload(c, "u1"); });
  ASSERT_TRUE(kept && *kept);
  EXPECT_EQ((*kept)->owner, std::to_string((*admin)->id));
}

TEST_F(DatabaseTest, RefusesAFileFromANewerVersion) {
  ASSERT_TRUE(db_->write([](Connection& c) { return c.exec("PRAGMA user_version = 999"); }));
  db_.reset();
  auto reopened = Database::open(dir_ / "test.db");
  ASSERT_FALSE(reopened);
  EXPECT_NE(reopened.error().message.find("newer"), std::string::npos);
}

TEST_F(DatabaseTest, FailedTransactionLeavesNothing) {
  std::string sha = sha256_hex("x");
  auto failed = db_->write([&](Connection& c) -> Result<void> {
    RETURN_IF_ERROR(insert_object(c, {sha, 1, "source"}));
    return fail(ErrorCode::internal, "abort");
  });
  ASSERT_FALSE(failed);
  auto exists = db_->read([&](Connection& c) { return object_exists(c, sha); });
  ASSERT_TRUE(exists);
  EXPECT_FALSE(*exists);
}

TEST_F(DatabaseTest, ForeignKeysAreEnforced) {
  // A video must refer to a recorded object.
  auto orphan = db_->write([&](Connection& c) { return insert_video(c, video("v", 1, sha256_hex("missing"))); });
  EXPECT_FALSE(orphan);
}

TEST_F(DatabaseTest, ListsNewestFirstAcrossPages) {
  for (int i = 0; i < 5; ++i) add_video("v" + std::to_string(i), 1000 + i);
  std::vector<std::string> seen;
  std::optional<std::string> cursor;
  int pages = 0;
  do {
    auto page = db_->read([&](Connection& c) { return list_videos(c, {true, std::nullopt}, 2, cursor); });
    ASSERT_TRUE(page) << page.error().message;
    EXPECT_EQ(page->total, 5);
    for (auto& v : page->videos) seen.push_back(v.id);
    cursor = page->next_cursor;
    ++pages;
  } while (cursor);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"v4", "v3", "v2", "v1", "v0"}));
  EXPECT_FALSE(db_->read([&](Connection& c) { return list_videos(c, {true, std::nullopt}, 2, std::string("garbage")); }));
}

TEST_F(DatabaseTest, DeletingAVideoUnreferencesItsObjectAndCascadesJobs) {
  add_video("v", 1);
  ASSERT_TRUE(db_->write([](Connection& c) { return enqueue_job(c, "v", "transcode", JobPriority::person); }));
  auto nothing = db_->write([](Connection& c) { return delete_unreferenced_objects(c); });
  ASSERT_TRUE(nothing);
  EXPECT_TRUE(nothing->empty());
  ASSERT_TRUE(db_->write([](Connection& c) { return delete_video(c, "v"); }));
  auto jobs = db_->read([](Connection& c) { return count_jobs(c, "v"); });
  EXPECT_EQ(*jobs, 0);
  auto removed = db_->write([](Connection& c) { return delete_unreferenced_objects(c); });
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, std::vector<std::string>{sha256_hex("v")});
}

// Job priorities (schema 10): a person's upload goes before a library import queued earlier;
// outside library.hours imports are not claimed at all; positions count in claim order.
class JobOrderTest : public DatabaseTest {
 protected:
  std::int64_t enqueue(const std::string& video_id, JobPriority priority, double duration_s = 0) {
    std::string sha = sha256_hex(video_id);
    auto id = db_->write([&](Connection& c) -> Result<std::int64_t> {
      RETURN_IF_ERROR(insert_object(c, {sha, 10, "source"}));
      VideoRow v = video(video_id, 1, sha);
      v.media_info_json = "{\"duration_s\": " + std::to_string(duration_s) + "}";
      RETURN_IF_ERROR(insert_video(c, v));
      return enqueue_job(c, video_id, "transcode", priority);
    });
    EXPECT_TRUE(id) << id.error().message;
    return id.value_or(0);
  }

  std::optional<std::int64_t> next(bool take_imports, std::int64_t at = now_ms()) {
    return db_->read([&](Connection& c) { return next_claimable_job(c, at, take_imports); }).value();
  }

  void start(std::int64_t id, std::int64_t at = now_ms()) {
    ASSERT_TRUE(db_->write([&](Connection& c) { return start_job(c, id, "me", 3, at + 60'000, at); }));
  }

  std::optional<std::int64_t> position(std::int64_t id) {
    return db_->read([&](Connection& c) { return find_job(c, id); }).value()->queue_position;
  }
};

TEST_F(JobOrderTest, AnUploadGoesBeforeImportsQueuedEarlier) {
  auto first_import = enqueue("i1", JobPriority::library_import);
  auto second_import = enqueue("i2", JobPriority::library_import);
  auto upload = enqueue("u1", JobPriority::person);
  EXPECT_EQ(next(true), upload);
  start(upload);
  EXPECT_EQ(next(true), first_import);
  start(first_import);
  EXPECT_EQ(next(true), second_import);
  auto found = db_->read([&](Connection& c) { return find_job(c, second_import); }).value();
  EXPECT_EQ(found->priority, JobPriority::library_import);
}

TEST_F(JobOrderTest, OutsideTheHoursImportsAreLeftAndUploadsTaken) {
  auto import = enqueue("i1", JobPriority::library_import);
  EXPECT_FALSE(next(false)) << "an import was claimed outside its hours";
  auto upload = enqueue("u1", JobPriority::person);
  EXPECT_EQ(next(false), upload);
  start(upload);
  EXPECT_FALSE(next(false));
  EXPECT_EQ(next(true), import);
  // An import whose lease ran out (its daemon died) waits for the hours as well.
  start(import, now_ms() - 120'000);
  EXPECT_FALSE(next(false));
  EXPECT_EQ(next(true), import);
}

TEST_F(JobOrderTest, QueuePositionsCountQueuedJobsInClaimOrder) {
  auto import_a = enqueue("i1", JobPriority::library_import);
  auto upload_running = enqueue("u0", JobPriority::person);
  auto upload_waiting = enqueue("u1", JobPriority::person);
  auto import_b = enqueue("i2", JobPriority::library_import);
  auto upload_later = enqueue("u2", JobPriority::person);
  start(upload_running);
  // u1 failed and waits for its retry: not due, but still ahead of the imports.
  start(upload_waiting);
  JobFailure failure;
  failure.not_before_ms = now_ms() + 600'000;
  failure.error_class = "storage";
  ASSERT_TRUE(*db_->write([&](Connection& c) { return record_job_failure(c, upload_waiting, "me", failure, now_ms()); }));

  EXPECT_EQ(position(upload_later), 1);
  EXPECT_EQ(position(upload_waiting), 2);
  EXPECT_EQ(position(import_a), 3);
  EXPECT_EQ(position(import_b), 4);
  EXPECT_FALSE(position(upload_running)) << "a running job has no place in the queue";
  EXPECT_EQ(next(true), upload_later) << "position 1 is the next claimed";

  // Listings and a page's latest jobs carry the same positions, in one statement each.
  auto listed = db_->read([](Connection& c) { return list_jobs(c, JobState::queued, 10); }).value();
  std::map<std::int64_t, std::int64_t> positions;
  for (const Job& job : listed) positions[job.id] = job.queue_position.value_or(0);
  EXPECT_EQ(positions, (std::map<std::int64_t, std::int64_t>{
                           {upload_later, 1}, {upload_waiting, 2}, {import_a, 3}, {import_b, 4}}));
  auto latest = db_->read([](Connection& c) { return latest_jobs(c, {"i2", "u0"}); }).value();
  EXPECT_EQ(latest.at("i2").queue_position, 4);
  EXPECT_FALSE(latest.at("u0").queue_position);

  start(upload_later);
  EXPECT_EQ(position(upload_waiting), 1);
  EXPECT_EQ(position(import_a), 2);
}

TEST_F(JobOrderTest, TheImportSummaryCountsAndSumsImportsOnly) {
  auto done = enqueue("i1", JobPriority::library_import, 120);
  auto running = enqueue("i2", JobPriority::library_import, 100);
  enqueue("i3", JobPriority::library_import, 30);
  enqueue("i4", JobPriority::library_import, 50);
  enqueue("u1", JobPriority::person, 1000);  // an upload: none of the import's business
  const auto now = now_ms();
  start(done, now - 70'000);
  ASSERT_TRUE(*db_->write([&](Connection& c) { return finish_job(c, done, "me", now - 10'000); }));
  start(running, now - 20'000);
  ASSERT_TRUE(*db_->write([&](Connection& c) {
    return record_job_progress(c, running, "me", {40, "encoding", 50.0, 30.0}, now + 60'000, now);
  }));

  auto summary = db_->read([&](Connection& c) { return summarize_import_jobs(c, now, now - 3'600'000); }).value();
  EXPECT_EQ(summary.queued, 2);
  EXPECT_EQ(summary.running, 1);
  EXPECT_EQ(summary.done, 1);
  EXPECT_EQ(summary.failed, 0);
  EXPECT_DOUBLE_EQ(summary.remaining_media_s, 30 + 50 + 60);  // queued whole, the running one's 60 % left
  EXPECT_DOUBLE_EQ(summary.recent_media_s, 120);
  EXPECT_DOUBLE_EQ(summary.recent_wall_s, 60);
  EXPECT_DOUBLE_EQ(summary.running_media_s, 40);
  EXPECT_DOUBLE_EQ(summary.running_wall_s, 20);

  auto older = db_->read([&](Connection& c) { return summarize_import_jobs(c, now, now - 5'000); }).value();
  EXPECT_EQ(older.recent_media_s, 0) << "finished before the window";
  EXPECT_EQ(older.done, 1);
}

TEST_F(DatabaseTest, PatchChangesOnlyWhatIsGiven) {
  add_video("v", 1);
  VideoPatch patch;
  patch.tags = std::vector<std::string>{"a", "b"};
  auto updated = db_->write([&](Connection& c) { return update_video(c, "v", patch); });
  ASSERT_TRUE(updated && *updated);
  auto found = db_->read([](Connection& c) { return find_video(c, "v"); });
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->title, "t-v");
  EXPECT_EQ((*found)->tags, (std::vector<std::string>{"a", "b"}));
  auto missing = db_->write([&](Connection& c) { return update_video(c, "nope", patch); });
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
}

TEST_F(DatabaseTest, ApiKeysStoreOnlyTheHashAndCanBeRevoked) {
  auto key = db_->write([](Connection& c) { return create_api_key(c, "laptop", 1); });
  ASSERT_TRUE(key);
  EXPECT_EQ(key->row.user_name, "admin");
  EXPECT_EQ(key->secret.rfind("cv_", 0), 0u);
  auto stored = db_->read([&](Connection& c) -> Result<std::string> {
    TRY(auto stmt, c.prepare("SELECT key_sha256 FROM api_keys"));
    TRY(bool row, stmt.step());
    (void)row;
    return stmt.text(0);
  });
  EXPECT_EQ(*stored, sha256_hex(key->secret));
  auto found = db_->read([&](Connection& c) { return find_live_key(c, key->secret); });
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->key_id, key->row.id);
  EXPECT_EQ((*found)->user.role, Role::admin) << "a key acts as its user";
  EXPECT_FALSE(*db_->read([&](Connection& c) { return find_live_key(c, key->secret + "x"); }));
  ASSERT_TRUE(*db_->write([&](Connection& c) { return revoke_api_key(c, key->row.id); }));
  EXPECT_FALSE(*db_->read([&](Connection& c) { return find_live_key(c, key->secret); }));
  EXPECT_FALSE(*db_->write([&](Connection& c) { return revoke_api_key(c, key->row.id); }));
}

TEST_F(DatabaseTest, UploadOffsetsOwnerAndExpiry) {
  UploadRow u;
  u.id = "u1";
  u.length = 100;
  u.expires_at_ms = 5000;
  u.owner = "key-1";
  ASSERT_TRUE(db_->write([&](Connection& c) { return insert_upload(c, u); }));
  ASSERT_TRUE(db_->write([](Connection& c) { return set_upload_offset(c, "u1", 40); }));
  auto found = db_->read([](Connection& c) { return find_upload(c, "u1"); });
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->offset, 40);
  EXPECT_EQ((*found)->owner, "key-1");
  EXPECT_EQ((*found)->expires_at_ms, 5000);  // an append does not move the expiry
  // The offset can never pass the length.
  EXPECT_FALSE(db_->write([](Connection& c) { return set_upload_offset(c, "u1", 101); }));
  auto expired = db_->read([](Connection& c) { return expired_uploads(c, 6000); });
  EXPECT_EQ(*expired, std::vector<std::string>{"u1"});
  EXPECT_TRUE(db_->read([](Connection& c) { return expired_uploads(c, 4000); })->empty());
}

TEST_F(DatabaseTest, ReplacedAndAbandonedVersionsGoAfterTheirGracePeriod) {
  add_video("v", 1);
  auto make = [&] { return db_->write([](Connection& c) { return create_version(c, "v", std::nullopt, 4, "libx264"); }).value(); };
  auto v1 = make();
  EXPECT_EQ(v1.number, 1);
  ASSERT_TRUE(db_->write([&](Connection& c) -> Result<void> {
    RETURN_IF_ERROR(complete_version(c, v1.id));
    return publish_version(c, "v", v1.id);
  }));
  auto v2 = make();
  auto v3 = make();  // a run that died and was never published
  EXPECT_EQ(v3.number, 3);
  ASSERT_TRUE(db_->write([&](Connection& c) { return publish_version(c, "v", v2.id); }));
  auto now = now_ms();
  // Within the grace period nothing goes: players may still be on version 1.
  EXPECT_EQ(*db_->write([&](Connection& c) { return delete_stale_versions(c, now, 3'600'000); }), 0);
  EXPECT_EQ(*db_->write([&](Connection& c) { return delete_stale_versions(c, now + 7'200'000, 3'600'000); }), 2);
  auto published = db_->read([](Connection& c) { return load_published_version(c, "v"); }).value();
  ASSERT_TRUE(published);
  EXPECT_EQ(published->number, 2);
  EXPECT_FALSE(db_->read([&](Connection& c) { return load_version(c, "v", 1); }).value());
  EXPECT_FALSE(db_->read([&](Connection& c) { return load_version(c, "v", 3); }).value());
}

TEST_F(DatabaseTest, PublishedVersionSummariesOfAPageInOneQuery) {
  add_video("a", 1);
  add_video("b", 2);
  add_video("c", 3);  // never published
  auto thumbnail = [](const std::string& kind, const std::string& format, int number, const std::string& name) {
    return ThumbnailRow{kind, format, number, number, number * 9 / 16, sha256_hex(name)};
  };
  ASSERT_TRUE(db_->write([&](Connection& c) -> Result<void> {
    for (const char* name : {"poster-640.jpg", "poster-640.webp", "poster-320.jpg", "sheet-0.jpg", "track.vtt"})
      RETURN_IF_ERROR(insert_object(c, {sha256_hex(name), 10, "image"}));
    TRY(auto a, create_version(c, "a", std::nullopt, 4, "libx264"));
    RETURN_IF_ERROR(insert_thumbnail(c, a.id, thumbnail("poster", "webp", 640, "poster-640.webp")));
    RETURN_IF_ERROR(insert_thumbnail(c, a.id, thumbnail("poster", "jpeg", 640, "poster-640.jpg")));
    RETURN_IF_ERROR(insert_thumbnail(c, a.id, thumbnail("poster", "jpeg", 320, "poster-320.jpg")));
    RETURN_IF_ERROR(insert_thumbnail(c, a.id, thumbnail("sprite", "jpeg", 0, "sheet-0.jpg")));
    RETURN_IF_ERROR(insert_thumbnail(c, a.id, thumbnail("trickplay", "vtt", 0, "track.vtt")));
    RETURN_IF_ERROR(complete_version(c, a.id));
    RETURN_IF_ERROR(publish_version(c, "a", a.id));
    TRY(auto b, create_version(c, "b", std::nullopt, 4, "libx264"));
    return publish_version(c, "b", b.id);
  }));
  auto found = db_->read([](Connection& c) {
    return published_version_summaries(c, {"a", "b", "c", "unknown"});
  });
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_EQ(found->size(), 2u);
  const PublishedVersion& a = found->at("a");
  EXPECT_EQ(a.number, 1);
  EXPECT_EQ(a.state, VersionState::complete);
  std::vector<std::string> order;
  for (const auto& t : a.thumbnails) order.push_back(t.kind + "/" + std::to_string(t.number) + "/" + t.format);
  // The sheets are left out; by kind, number, format.
  EXPECT_EQ(order, (std::vector<std::string>{"poster/320/jpeg", "poster/640/jpeg", "poster/640/webp", "trickplay/0/vtt"}));
  EXPECT_EQ(a.thumbnails[0].sha256, sha256_hex("poster-320.jpg"));
  EXPECT_EQ(a.thumbnails[0].height, 180);
  EXPECT_TRUE(found->at("b").thumbnails.empty());
  EXPECT_EQ(found->count("c"), 0u);
  // The one-video form says the same.
  auto one = db_->read([](Connection& c) { return published_version_summary(c, "a"); });
  ASSERT_TRUE(one && *one);
  EXPECT_EQ((*one)->thumbnails.size(), 4u);
  EXPECT_FALSE(*db_->read([](Connection& c) { return published_version_summary(c, "c"); }));
  EXPECT_TRUE(db_->read([](Connection& c) { return published_version_summaries(c, {}); })->empty());
}

// Connections keep their prepared statements: a statement lent again must start afresh
// (see new rows, have no old bindings), and the same query nested in itself must work.
TEST_F(DatabaseTest, ReusedStatementsSeeNewRowsAndNest) {
  constexpr const char* kCount = "SELECT count(*) FROM videos WHERE created_at >= ?";
  auto count = [&](std::int64_t since) {
    return db_->read([&](Connection& c) -> Result<std::int64_t> {
      TRY(auto stmt, c.prepare(kCount));
      stmt.bind(1, since);
      TRY(bool row, stmt.step());
      if (!row) return fail(ErrorCode::internal, "no row");
      return stmt.int64(0);
    });
  };
  add_video("a", 100);
  // Every reader of the pool, left after one step of a scan.
  for (int i = 0; i < 8; ++i) {
    auto scanned = db_->read([&](Connection& c) -> Result<void> {
      TRY(auto stmt, c.prepare("SELECT id FROM videos"));
      TRY(bool row, stmt.step());
      EXPECT_TRUE(row);
      return {};
    });
    ASSERT_TRUE(scanned) << scanned.error().message;
  }
  add_video("b", 200);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(count(0).value(), 2) << "a reused statement read an old snapshot";
    EXPECT_EQ(count(150).value(), 1);
  }
  auto nested = db_->read([&](Connection& c) -> Result<std::int64_t> {
    TRY(auto outer, c.prepare(kCount));
    outer.bind(1, std::int64_t{0});
    TRY(bool outer_row, outer.step());
    TRY(auto inner, c.prepare(kCount));
    inner.bind(1, std::int64_t{150});
    TRY(bool inner_row, inner.step());
    if (!outer_row || !inner_row) return fail(ErrorCode::internal, "no row");
    return outer.int64(0) * 10 + inner.int64(0);
  });
  ASSERT_TRUE(nested) << nested.error().message;
  EXPECT_EQ(*nested, 21);
}

TEST_F(DatabaseTest, ConcurrentWritersAndReadersFromManyThreads) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string id = "v" + std::to_string(t) + "-" + std::to_string(i);
        std::string sha = sha256_hex(id);
        auto added = db_->write([&](Connection& c) -> Result<void> {
          RETURN_IF_ERROR(insert_object(c, {sha, 1, "source"}));
          return insert_video(c, video(id, t * 100 + i, sha));
        });
        EXPECT_TRUE(added);
        EXPECT_TRUE(db_->read([&](Connection& c) { return find_video(c, id); }).value().has_value());
      }
    });
  for (auto& t : threads) t.join();
  auto page = db_->read([](Connection& c) { return list_videos(c, {true, std::nullopt}, 1, std::nullopt); });
  EXPECT_EQ(page->total, 100);
}

TEST_F(DatabaseTest, UsersHaveOneNameWhateverItsCaseAndARole) {
  auto made = db_->write([](Connection& c) { return create_user(c, "Alice", Role::admin, "$argon2id$hash-a"); });
  ASSERT_TRUE(made) << made.error().message;
  EXPECT_EQ(made->name, "Alice");
  EXPECT_EQ(made->role, Role::admin);
  auto taken = db_->write([](Connection& c) { return create_user(c, "alice", Role::viewer, "$argon2id$hash-b"); });
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, ErrorCode::conflict);
  ASSERT_TRUE(db_->write([](Connection& c) { return create_user(c, "bob", Role::viewer, "$argon2id$hash-b"); }));

  // The schema's own first admin, made without a password, is "admin".
  auto users = db_->read([](Connection& c) { return list_users(c); });
  ASSERT_TRUE(users);
  ASSERT_EQ(users->size(), 3u);
  EXPECT_EQ((*users)[0].name, "admin");
  EXPECT_FALSE((*users)[0].has_password);
  EXPECT_EQ((*users)[1].name, "Alice");
  EXPECT_TRUE((*users)[1].has_password);
  EXPECT_EQ((*users)[2].role, Role::viewer);
  const std::int64_t admin = (*users)[0].id, alice = (*users)[1].id, bob = (*users)[2].id;

  // A new password ends the user's sessions.
  auto session = db_->write([&](Connection& c) { return create_session(c, bob, 60000); });
  ASSERT_TRUE(session);
  EXPECT_TRUE(db_->read([&](Connection& c) { return find_session(c, session->token); }).value().has_value());
  EXPECT_TRUE(db_->write([&](Connection& c) { return set_user_password(c, bob, "$argon2id$hash-c"); }).value());
  EXPECT_FALSE(db_->read([&](Connection& c) { return find_session(c, session->token); }).value().has_value());
  EXPECT_FALSE(db_->write([](Connection& c) { return set_user_password(c, 999, "x"); }).value());

  // Roles change, but never away from the last admin.
  EXPECT_TRUE(db_->write([&](Connection& c) { return set_user_role(c, admin, Role::uploader); }).value());
  auto demoted = db_->write([&](Connection& c) { return set_user_role(c, alice, Role::viewer); });
  ASSERT_FALSE(demoted);
  EXPECT_EQ(demoted.error().code, ErrorCode::conflict);
  auto last = db_->write([&](Connection& c) { return remove_user(c, alice, bob); });
  ASSERT_FALSE(last);
  EXPECT_EQ(last.error().code, ErrorCode::conflict);

  // A user removed hands their videos to the heir; their sessions go.
  VideoRow bobs = video("v-bob", 1, std::string(64, 'b'));
  bobs.owner_id = bob;
  ASSERT_TRUE(db_->write([&](Connection& c) -> Result<void> {
    RETURN_IF_ERROR(insert_object(c, {bobs.source_sha256, 1, "source"}));
    return insert_video(c, bobs);
  }));
  // Bob asks to be his own heir: the first other admin takes them.
  auto heir = db_->write([&](Connection& c) { return remove_user(c, bob, bob); });
  ASSERT_TRUE(heir && *heir);
  EXPECT_EQ((*heir)->id, alice);
  EXPECT_FALSE(db_->write([&](Connection& c) { return remove_user(c, bob, alice); }).value().has_value());
  EXPECT_FALSE(db_->read([](Connection& c) { return find_user(c, "bob"); }).value().has_value());
  auto kept = db_->read([](Connection& c) { return find_video(c, "v-bob"); });
  ASSERT_TRUE(kept && *kept);
  EXPECT_EQ((*kept)->owner_id, alice);
  EXPECT_EQ((*kept)->owner_name, "Alice");
}

TEST_F(DatabaseTest, LibraryFilesRememberWhatBecameOfEachFile) {
  VideoRow clip = video("v-lib", 1, std::string(64, 'c'));
  clip.owner_id = 1;
  ASSERT_TRUE(db_->write([&](Connection& c) -> Result<void> {
    RETURN_IF_ERROR(insert_object(c, {clip.source_sha256, 1, "source"}));
    RETURN_IF_ERROR(insert_video(c, clip));
    RETURN_IF_ERROR(record_library_file(c, {1, "/srv/v/a.mp4", 10, 111, "added", std::string("v-lib"), ""}));
    return record_library_file(c, {1, "/srv/v/notes.txt", 5, 222, "refused", std::nullopt, "not a video"});
  }));
  auto added = db_->read([](Connection& c) { return find_library_file(c, 1, "/srv/v/a.mp4"); });
  ASSERT_TRUE(added && *added);
  EXPECT_EQ((*added)->size, 10u);
  EXPECT_EQ((*added)->mtime_ns, 111);
  EXPECT_EQ((*added)->outcome, "added");
  EXPECT_EQ((*added)->video_id, std::optional<std::string>("v-lib"));
  auto refused = db_->read([](Connection& c) { return find_library_file(c, 1, "/srv/v/notes.txt"); });
  ASSERT_TRUE(refused && *refused);
  EXPECT_EQ((*refused)->reason, "not a video");
  EXPECT_FALSE((*refused)->video_id);
  // Another owner's import of the same path is theirs; a deleted video leaves the row, unlinked.
  EXPECT_FALSE(db_->read([](Connection& c) { return find_library_file(c, 2, "/srv/v/a.mp4"); }).value());
  ASSERT_TRUE(db_->write([](Connection& c) { return delete_video(c, "v-lib"); }));
  added = db_->read([](Connection& c) { return find_library_file(c, 1, "/srv/v/a.mp4"); });
  ASSERT_TRUE(added && *added);
  EXPECT_FALSE((*added)->video_id);
  // Recording again replaces the row.
  ASSERT_TRUE(db_->write([](Connection& c) {
    return record_library_file(c, {1, "/srv/v/notes.txt", 6, 333, "refused", std::nullopt, "still not a video"});
  }));
  refused = db_->read([](Connection& c) { return find_library_file(c, 1, "/srv/v/notes.txt"); });
  EXPECT_EQ((*refused)->mtime_ns, 333);
  EXPECT_EQ((*refused)->reason, "still not a video");
}

TEST_F(DatabaseTest, ListingsShowWhatTheirScopeMayWatch) {
  auto bob = db_->write([](Connection& c) { return create_user(c, "bob", Role::uploader, "h"); });
  ASSERT_TRUE(bob);
  const std::pair<const char*, Visibility> made[] = {{"private", Visibility::owner_only}, {"unlisted", Visibility::unlisted},
                                                     {"library", Visibility::library}, {"public", Visibility::anyone}};
  int t = 0;
  for (auto [id, visibility] : made) {
    VideoRow v = video(id, ++t, sha256_hex(id));
    v.visibility = visibility;
    ASSERT_TRUE(db_->write([&](Connection& c) -> Result<void> {
      RETURN_IF_ERROR(insert_object(c, {v.source_sha256, 1, "source"}));
      return insert_video(c, v);
    }));
  }
  auto ids = [&](ListScope scope) {
    std::vector<std::string> listed;
    auto page = db_->read([&](Connection& c) { return list_videos(c, scope, 10, std::nullopt); });
    for (auto& v : page->videos) listed.push_back(v.id);
    return listed;
  };
  using List = std::vector<std::string>;
  EXPECT_EQ(ids({true, 1}), (List{"public", "library", "unlisted", "private"}));
  EXPECT_EQ(ids({false, 1}), (List{"public", "library", "unlisted", "private"})) << "the owner sees their own";
  EXPECT_EQ(ids({false, bob->id}), (List{"public", "library"}));
  EXPECT_EQ(ids({false, std::nullopt}), (List{"public"}));
  EXPECT_EQ(db_->read([&](Connection& c) { return list_videos(c, {false, bob->id}, 10, std::nullopt); })->total, 2);
  EXPECT_EQ(to_string(Visibility::owner_only), std::string("private"));
  EXPECT_EQ(parse_visibility("public"), Visibility::anyone);
  EXPECT_FALSE(parse_visibility("Public"));
}

TEST_F(DatabaseTest, UserNamesAndRolesAreChecked) {
  for (const char* bad : {"", ".hidden", "-dash", "has space", "sl/ash", "\xc3\xa9", "a;b"}) {
    auto made = db_->write([&](Connection& c) { return create_user(c, bad, Role::viewer, "h"); });
    ASSERT_FALSE(made) << bad;
    EXPECT_EQ(made.error().code, ErrorCode::invalid_argument) << bad;
  }
  EXPECT_TRUE(check_user_name(std::string(64, 'a')));
  EXPECT_FALSE(check_user_name(std::string(65, 'a')));
  EXPECT_EQ(parse_role("uploader"), Role::uploader);
  EXPECT_FALSE(parse_role("root").has_value());
  EXPECT_FALSE(parse_role("Admin").has_value());
}

}  // namespace
}  // namespace cinevault::db
