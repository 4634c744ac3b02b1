#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cinevault/api/api.hpp"

namespace cinevault::api {

void add_health_routes(ApiContext& context, std::vector<http::Route>& routes) {
  routes.push_back({http::Verb::get, "/healthz",
                    [](http::RequestContext&) -> http::Response { return http::json_response(200, {{"status", "ok"}}); },
                    http::Access::open, http::BodyKind::none, 0, {}, false});
  routes.push_back({http::Verb::get, "/readyz",
                    [&context](http::RequestContext&) -> http::Response {
                      if (context.draining()) return http::error_response({ErrorCode::unavailable, "shutting down"});
                      auto version = context.database.read([](db::Connection& c) -> Result<bool> {
                        TRY(auto stmt, c.prepare("SELECT 1"));
                        return stmt.step();
                      });
                      if (!version) return http::error_response({ErrorCode::unavailable, "the database does not answer"});
                      return http::json_response(200, {{"status", "ready"}});
                    },
                    http::Access::open});
  routes.push_back({http::Verb::post, "/api/v1/admin/gc",
                    [&context](http::RequestContext&) -> http::Response {
                      auto report = context.collect_garbage();
                      if (!report) return http::error_response(report.error());
                      return http::json_response(200, {{"rows_removed", report->rows_removed},
                                                       {"objects_removed", report->objects_removed},
                                                       {"bytes_freed", report->bytes_freed}});
                    },
                    http::Access::admin});
  routes.push_back({http::Verb::post, "/api/v1/admin/signing-key",
                    [&context](http::RequestContext& request) -> http::Response {
                      if (auto rotated = context.share_links.rotate(context.database); !rotated)
                        return http::error_response(rotated.error());
                      spdlog::info("{} rotated the share-link signing key: earlier links no longer open", request.principal->name);
                      return http::empty_response(204);
                    },
                    http::Access::admin});
}

std::vector<http::Route> make_routes(ApiContext& context) {
  std::vector<http::Route> routes;
  add_health_routes(context, routes);
  add_account_routes(context, routes);
  add_video_routes(context, routes);
  add_upload_routes(context, routes);
  add_job_routes(context, routes);
  add_library_routes(context, routes);
  add_object_routes(context, routes);
  add_playback_routes(context, routes);
  add_web_routes(context, routes);
  return routes;
}

}  // namespace cinevault::api
