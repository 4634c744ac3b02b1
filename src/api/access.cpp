// Who may watch, list and manage videos: the one place the visibility rules are written.
#include "cinevault/api/api.hpp"
#include "cinevault/db/videos.hpp"
#include "common.hpp"

namespace cinevault::api {

bool may_watch(const ApiContext& context, const http::RequestContext& request, std::string_view video_id,
               const db::VideoAccess& video) {
  if (request.share && request.share->video_id == video_id) return true;
  if (const auto& user = request.principal) {
    if (user->role == Role::admin || user->user_id == video.owner_id) return true;
    return video.visibility != db::Visibility::owner_only;
  }
  // Anonymous: public videos, and unlisted ones by their link, when the server shows anything
  // to anonymous readers.
  return !context.config.auth.require_key_for_reads &&
         (video.visibility == db::Visibility::anyone || video.visibility == db::Visibility::unlisted);
}

bool may_manage(const http::RequestContext& request, std::int64_t owner_id) {
  const auto& user = request.principal;
  return user && (user->role == Role::admin || user->user_id == owner_id);
}

db::ListScope list_scope(const http::RequestContext& request) {
  db::ListScope scope;
  if (const auto& user = request.principal) {
    scope.everything = user->role == Role::admin;
    scope.user_id = user->user_id;
  }
  return scope;
}

std::string share_query(const http::RequestContext& request) {
  return request.share ? "?share=" + request.share->token : std::string();
}

Audience audience_of(const http::RequestContext& request, std::int64_t owner_id) {
  return may_manage(request, owner_id) ? Audience::manager : Audience::viewer;
}

// The video params[0] names, if the requester may watch it (404 otherwise, as for none).
Result<db::VideoRow> watchable_video(ApiContext& context, const http::RequestContext& request) {
  TRY(auto video, context.database.read([&](db::Connection& c) { return db::find_video(c, request.params[0]); }));
  if (!video || !may_watch(context, request, video->id, {video->owner_id, video->visibility}))
    return fail(ErrorCode::not_found, "no such video");
  return std::move(*video);
}

// ... and may change it: its owner or an admin (403 for others who may watch it).
Result<db::VideoRow> managed_video(ApiContext& context, const http::RequestContext& request) {
  TRY(auto video, watchable_video(context, request));
  if (!may_manage(request, video.owner_id))
    return fail(ErrorCode::forbidden, "only its owner or an admin can change this video");
  return video;
}

}  // namespace cinevault::api
