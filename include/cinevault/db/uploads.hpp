// Rows of the uploads table: the durable state of tus uploads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cinevault/core/result.hpp"
#include "cinevault/db/sqlite.hpp"

namespace cinevault::db {

struct UploadRow {
  std::string id;
  std::int64_t length = 0;
  std::int64_t offset = 0;
  std::string metadata_json = "{}";
  std::string state = "receiving";  // receiving, complete
  std::optional<std::string> sha256;
  std::optional<std::string> video_id;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::int64_t expires_at_ms = 0;
  std::string owner;  // the id of the API key that created it ("" before schema 4)
};

Result<void> insert_upload(Connection& c, const UploadRow& upload);
Result<std::optional<UploadRow>> find_upload(Connection& c, const std::string& id);
// Moves the acknowledged offset forward (the expiry stays: it counts from the creation).
Result<void> set_upload_offset(Connection& c, const std::string& id, std::int64_t offset);
// Records the last byte: offset = length and the whole upload's hash, in one update.
Result<void> set_upload_received(Connection& c, const std::string& id, const std::string& sha256);
Result<void> complete_upload(Connection& c, const std::string& id, const std::string& video_id);
Result<bool> delete_upload(Connection& c, const std::string& id);
// Uploads whose expiry has passed.
Result<std::vector<std::string>> expired_uploads(Connection& c, std::int64_t now_ms);
Result<std::vector<UploadRow>> all_uploads(Connection& c);

}  // namespace cinevault::db
