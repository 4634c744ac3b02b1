// The job queue over HTTP: list, inspect and retry dead letters (admins), re-transcode a video
// (its owner or an admin).
#include "cinevault/api/api.hpp"
#include "cinevault/core/parse.hpp"
#include "cinevault/db/jobs.hpp"
#include "cinevault/db/videos.hpp"
#include "common.hpp"

namespace cinevault::api {
namespace {

using nlohmann::json;

std::optional<std::int64_t> parse_id(const std::string& text) {
  auto id = parse_integer<std::int64_t>(text);
  return id && *id > 0 ? id : std::nullopt;
}

}  // namespace

json job_json(const db::Job& job, Audience audience) {
  json out = {{"id", job.id},
              {"video_id", job.video_id},
              {"kind", job.kind},
              {"state", db::to_string(job.state)},
              {"priority", static_cast<int>(job.priority)},
              {"attempts", job.attempts},
              {"max_attempts", job.max_attempts},
              {"progress", {{"percent", job.progress_percent}, {"stage", job.stage}}},
              {"created_at", iso8601_utc(job.created_at_ms)},
              {"updated_at", iso8601_utc(job.updated_at_ms)}};
  if (job.fps) out["progress"]["fps"] = *job.fps;
  if (job.eta_s) out["progress"]["eta_s"] = *job.eta_s;
  if (job.queue_position) out["queue_position"] = *job.queue_position;
  if (job.state == db::JobState::queued && job.attempts > 0) out["next_attempt_at"] = iso8601_utc(job.not_before_ms);
  if (job.error_class) {
    out["error"] = {{"class", *job.error_class}, {"message", job.error_message.value_or("")}};
    if (audience == Audience::manager) out["error"]["log_tail"] = job.log_tail.value_or("");
  }
  if (job.force_software) out["software_encoding"] = true;
  return out;
}

void add_job_routes(ApiContext& context, std::vector<http::Route>& routes) {
  routes.push_back({http::Verb::get, "/api/v1/jobs", [&context](http::RequestContext& request) -> http::Response {
                      auto text = request.query_value("state");
                      std::optional<db::JobState> state;
                      if (text) state = db::parse_job_state(*text);
                      if (text && !state)
                        return http::error_response({ErrorCode::invalid_argument, "state must be queued, running, done, dead or cancelled"});
                      auto jobs = context.jobs.list(state, 200);
                      if (!jobs) return http::error_response(jobs.error());
                      json list = json::array();
                      for (auto& job : *jobs) list.push_back(job_json(job, Audience::manager));
                      return http::json_response(200, {{"jobs", list}});
                    },
                    http::Access::admin});

  routes.push_back({http::Verb::get, "/api/v1/jobs/{}", [&context](http::RequestContext& request) -> http::Response {
                      auto id = parse_id(request.params[0]);
                      if (!id) return http::error_response({ErrorCode::not_found, "no such job"});
                      auto job = context.jobs.find(*id);
                      if (!job) return http::error_response(job.error());
                      if (!*job) return http::error_response({ErrorCode::not_found, "no such job"});
                      return http::json_response(200, job_json(**job, Audience::manager));
                    },
                    http::Access::admin});

  routes.push_back({http::Verb::post, "/api/v1/jobs/{}/retry",
                    [&context](http::RequestContext& request) -> http::Response {
                      auto id = parse_id(request.params[0]);
                      if (!id) return http::error_response({ErrorCode::not_found, "no such job"});
                      auto job = context.jobs.retry(*id);
                      if (!job) return http::error_response(job.error());
                      if (!*job) return http::error_response({ErrorCode::not_found, "no such job"});
                      context.job_queued();
                      return http::json_response(200, job_json(**job, Audience::manager));
                    },
                    http::Access::admin});

  // A new transcode run: a new version, published when done; the current one plays meanwhile.
  routes.push_back({http::Verb::post, "/api/v1/videos/{}/transcode",
                    [&context](http::RequestContext& request) -> http::Response {
                      if (auto managed = managed_video(context, request); !managed)
                        return http::error_response(managed.error());
                      auto queued = context.database.write([&](db::Connection& c) -> Result<std::optional<std::int64_t>> {
                        TRY(auto video, db::find_video(c, request.params[0]));
                        if (!video) return std::optional<std::int64_t>();
                        TRY(bool busy, db::has_active_job(c, video->id));
                        if (busy) return fail(ErrorCode::conflict, "a transcode of this video is already queued or running");
                        TRY(auto id, db::enqueue_job(c, video->id, "transcode", db::JobPriority::person));
                        return std::optional<std::int64_t>(id);
                      });
                      if (!queued) return http::error_response(queued.error());
                      if (!*queued) return http::error_response({ErrorCode::not_found, "no such video"});
                      context.job_queued();
                      auto job = context.jobs.find(**queued);
                      if (!job || !*job) return http::error_response({ErrorCode::internal, "the job vanished"});
                      auto response = http::json_response(202, job_json(**job, Audience::manager));
                      response.set(http::beast_http::field::location, "/api/v1/jobs/" + std::to_string(**queued));
                      return response;
                    },
                    http::Access::user});
}

}  // namespace cinevault::api
