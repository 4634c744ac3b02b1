// The HTTP API: the route table that connects the server to ingest, the database and the store.
#pragma once

#include <functional>
#include <vector>

#include "cinevault/api/object_index.hpp"
#include "cinevault/api/share_links.hpp"
#include "cinevault/core/config.hpp"
#include "cinevault/db/database.hpp"
#include "cinevault/http/server.hpp"
#include "cinevault/http/types.hpp"
#include "cinevault/ingest/ingestor.hpp"
#include "cinevault/ingest/library_import.hpp"
#include "cinevault/ingest/uploads.hpp"
#include "cinevault/pipeline/job_queue.hpp"
#include "cinevault/store/object_store.hpp"
#include "cinevault/web/assets.hpp"

namespace cinevault::api {

struct ApiContext {
  const Config& config;
  db::Database& database;
  store::ObjectStore& store;
  ingest::Ingestor& ingestor;
  ingest::UploadManager& uploads;
  ingest::UploadBudget& upload_budget;  // one-shot uploads claim their bytes here too
  ingest::LibraryImporter& importer;
  pipeline::JobQueue& jobs;
  const web::Assets& assets;
  ObjectIndex& objects;  // forget_all() after deleting rows or changing who may watch
  ShareLinks& share_links;
  std::function<void()> job_queued;
  std::function<bool()> draining;
  std::function<Result<store::GcReport>()> collect_garbage;
};

// The routes keep references into `context`, which must outlive the server.
std::vector<http::Route> make_routes(ApiContext& context);
// Who may pass: API keys and sessions from the database, share links from `share_links`.
http::Gate make_gate(ApiContext& context);

// Parts of the table, one file each.
void add_health_routes(ApiContext& context, std::vector<http::Route>& routes);
void add_account_routes(ApiContext& context, std::vector<http::Route>& routes);
void add_video_routes(ApiContext& context, std::vector<http::Route>& routes);
void add_upload_routes(ApiContext& context, std::vector<http::Route>& routes);
void add_job_routes(ApiContext& context, std::vector<http::Route>& routes);
void add_playback_routes(ApiContext& context, std::vector<http::Route>& routes);
void add_object_routes(ApiContext& context, std::vector<http::Route>& routes);
void add_library_routes(ApiContext& context, std::vector<http::Route>& routes);
void add_web_routes(ApiContext& context, std::vector<http::Route>& routes);

}  // namespace cinevault::api
