// Playback: HLS and DASH manifests rendered from the database (cached per version while it
// is unchanged), and the versioned segment URLs of the DASH SegmentTemplate.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>

#include "cinevault/api/request_parsing.hpp"
#include "cinevault/core/parse.hpp"
#include "cinevault/db/versions.hpp"
#include "cinevault/manifest/manifest.hpp"
#include "common.hpp"
#include "version_cache.hpp"

namespace cinevault::api {
namespace {

namespace field = http::beast_http;

manifest::Version to_manifest(db::VersionRow row) {
  manifest::Version version;
  version.video_id = row.video_id;
  version.number = row.number;
  version.target_segment_s = row.segment_s;
  version.created_at_ms = row.created_at_ms;
  version.updated_at_ms = row.updated_at_ms;
  version.renditions = std::move(row.renditions);
  return version;
}

// "v3" → 3
std::optional<int> parse_version(std::string_view text) {
  if (text.empty() || text[0] != 'v') return std::nullopt;
  auto number = parse_integer<int>(text.substr(1));
  return number && *number >= 1 ? number : std::nullopt;
}

// The published version (number empty) or version "v{n}" of the video, from the cache when
// its stamp is unchanged; not_found, as for no video, when the request may not watch it.
Result<std::shared_ptr<const CachedVersion>> find_version(ApiContext& context, VersionCache& cache,
                                                          const http::RequestContext& request,
                                                          std::string_view number) {
  const std::string& video_id = request.params[0];
  std::optional<int> n;
  if (!number.empty()) {
    n = parse_version(number);
    if (!n) return fail(ErrorCode::not_found, "no such version");
  }
  // Read before the database: a write while we read makes what we remember stale at once.
  const std::uint64_t generation = context.database.generation();
  TRY(auto access, context.database.read([&](db::Connection& c) { return db::find_video_access(c, video_id); }));
  if (!access || !may_watch(context, request, video_id, *access)) return fail(ErrorCode::not_found, "no such video");
  TRY(auto stamp, context.database.read([&](db::Connection& c) {
    return n ? db::version_stamp(c, video_id, *n) : db::published_version_stamp(c, video_id);
  }));
  if (!stamp) {
    if (n) return fail(ErrorCode::not_found, "no such version");
    return fail(ErrorCode::not_found, "the video is not playable yet (or does not exist)");
  }
  auto found = cache.find(*stamp);
  if (!found) {
    TRY(auto row, context.database.read([&](db::Connection& c) { return db::load_version(c, stamp->id); }));
    if (!row) return fail(ErrorCode::not_found, "no such version");
    // Keyed by what was read: the row may be newer than the stamp asked a moment before.
    db::VersionStamp read{row->id, row->state, row->updated_at_ms};
    found = cache.insert(std::move(read), to_manifest(std::move(*row)));
  }
  cache.name({video_id, number}, found, generation, *access);
  return found;
}

// Manifests change while a version grows: a short cache, and an ETag so that a poll costs little.
http::Response manifest_response(const http::RequestContext& request,
                                 const Result<std::shared_ptr<const RenderedManifest>>& rendered,
                                 const char* content_type, bool version_complete) {
  if (!rendered) {
    // A rendition without its first segment yet: ask the player to come back in a moment.
    auto response = http::error_response(rendered.error());
    if (rendered.error().code == ErrorCode::unavailable) response.set(field::field::retry_after, "1");
    return response;
  }
  const RenderedManifest& manifest = **rendered;
  std::string_view if_none_match = request.header_value(field::field::if_none_match);
  // What an anonymous reader was given anyone may be given; what credentials or a share link
  // opened stays out of shared caches.
  const bool shared_cache = !request.principal && !request.share;
  const char* cache = version_complete ? (shared_cache ? "public, max-age=10" : "private, max-age=10")
                                       : (shared_cache ? "public, max-age=1" : "private, max-age=1");
  if (client_has(if_none_match, manifest.etag)) {
    http::EmptyResponse not_modified;
    not_modified.result(304);
    not_modified.set(field::field::etag, manifest.etag);
    not_modified.set(field::field::cache_control, cache);
    return not_modified;
  }
  http::StringResponse response;
  response.result(200);
  response.set(field::field::content_type, content_type);
  response.set(field::field::etag, manifest.etag);
  response.set(field::field::cache_control, cache);
  response.body() = manifest.text;
  response.prepare_payload();
  return response;
}

// A manifest that needs a segment not stored yet (a rung's first, while the smallest rung's
// goes first; the MPD, until every rendition has one) is held until a write brings it,
// rather than answered 503: a player that starts on the smallest rung and switches up at
// once then simply waits. Held on the blocking pool, so only a few at a time.
constexpr auto kHoldLimit = std::chrono::seconds(6);               // players wait 10 s for a playlist
constexpr auto kHoldRecheck = std::chrono::milliseconds(250);      // also notices a shutdown

class HeldRequests {
 public:
  explicit HeldRequests(int limit) : limit_(limit) {}
  // A place among the held requests while it lives; see enter().
  class Place {
   public:
    explicit Place(HeldRequests& owner) : owner_(owner) {}
    Place(const Place&) = delete;
    Place& operator=(const Place&) = delete;
    ~Place() { owner_.held_.fetch_sub(1); }

   private:
    HeldRequests& owner_;
  };
  // Takes a place into `place`; false when all are taken.
  bool enter(std::optional<Place>& place) {
    int held = held_.load();
    while (held < limit_) {
      if (held_.compare_exchange_weak(held, held + 1)) {
        place.emplace(*this);
        return true;
      }
    }
    return false;
  }

 private:
  const int limit_;
  std::atomic<int> held_{0};
};

bool waits_for_a_segment(const http::Response& response) {
  const auto* text = std::get_if<http::StringResponse>(&response);
  return text != nullptr && text->result() == field::status::service_unavailable;
}

constexpr const char* kHlsType = "application/vnd.apple.mpegurl";
constexpr const char* kDashType = "application/dash+xml";

// "720p.m3u8" → "720p"
std::optional<std::string> playlist_rendition(const std::string& name) {
  constexpr std::string_view kM3u8 = ".m3u8";
  if (name.size() <= kM3u8.size() || !name.ends_with(kM3u8)) return std::nullopt;
  return name.substr(0, name.size() - kM3u8.size());
}

// The manifest `name`, rendered by `render` once and kept; or, through a share link, for this
// request, with the link's signature on every URL it names.
Result<std::shared_ptr<const RenderedManifest>> rendered(
    const CachedVersion& version, const std::string& name, const http::RequestContext& request,
    const std::function<Result<std::string>(const manifest::Options&)>& render) {
  if (!request.share) return version.manifest(name, [&] { return render({}); });
  TRY(auto text, render({"", share_query(request)}));
  auto etag = strong_etag(text);
  return std::make_shared<const RenderedManifest>(RenderedManifest{std::move(text), std::move(etag)});
}

// A media playlist, "{rendition}.m3u8": /videos/{id}/v{n}/{rendition}.m3u8 (what the master
// lists) or /videos/{id}/{rendition}.m3u8 (the published version's).
http::Response media_playlist(const CachedVersion& version, const http::RequestContext& request,
                              const std::string& name) {
  auto rendition = playlist_rendition(name);
  if (!rendition) return http::error_response({ErrorCode::not_found, "no such playlist"});
  auto text = rendered(version, name, request, [&](const manifest::Options& options) {
    return manifest::hls_media(version.version, *rendition, options);
  });
  return manifest_response(request, text, kHlsType, version.complete());
}

// /videos/{id}/master.m3u8, /videos/{id}/manifest.mpd, /videos/{id}/{rendition}.m3u8
http::Response video_manifest(const CachedVersion& version, const http::RequestContext& request) {
  const std::string& name = request.params[1];
  bool complete = version.complete();
  const manifest::Version& data = version.version;
  if (name == "master.m3u8")
    return manifest_response(
        request, rendered(version, name, request, [&](const auto& options) { return manifest::hls_master(data, options); }),
        kHlsType, complete);
  if (name == "manifest.mpd")
    return manifest_response(
        request, rendered(version, name, request, [&](const auto& options) { return manifest::dash_mpd(data, options); }),
        kDashType, complete);
  return media_playlist(version, request, name);
}

// /videos/{id}/v{n}/{rendition}/init.mp4 and /{time}.m4s: the DASH SegmentTemplate's URLs,
// served from the stored objects. Immutable, like /objects/.
http::Response version_segment(ApiContext& context, const CachedVersion& cached, const http::RequestContext& request) {
  const manifest::Version& version = cached.version;
  const Rendition* rendition = nullptr;
  for (auto& r : version.renditions)
    if (r.name == request.params[2]) rendition = &r;
  if (!rendition) return http::error_response({ErrorCode::not_found, "no such rendition"});
  const std::string& file = request.params[3];
  // What credentials or a share link opened stays out of shared caches.
  auto answer = [&](const std::string& sha256, const char* type) {
    auto response = object_response(context, request, sha256, type);
    if (request.principal || request.share) keep_out_of_shared_caches(response);
    return response;
  };
  if (file == "init.mp4") return answer(rendition->init_sha256, "video/mp4");
  constexpr std::string_view kM4s = ".m4s";
  std::int64_t time = -1;
  if (file.ends_with(kM4s))
    time = parse_integer<std::int64_t>(std::string_view(file).substr(0, file.size() - kM4s.size())).value_or(-1);
  // Segments are in presentation order.
  auto segment = std::lower_bound(rendition->segments.begin(), rendition->segments.end(), time,
                                  [](const Segment& s, std::int64_t t) { return s.start < t; });
  if (segment != rendition->segments.end() && segment->start == time)
    return answer(segment->sha256, "video/iso.segment");
  return http::error_response({ErrorCode::not_found, "no such segment (yet)"});
}

}  // namespace

void add_playback_routes(ApiContext& context, std::vector<http::Route>& routes) {
  // Up to 200,000 segments (about 25 MB): thousands of short videos, or a few hundred films.
  auto cache = std::make_shared<VersionCache>(200000);
  // Each route answers from the version its path names: params[0] is the video, and
  // params[version_param] the version ("v3"), or there is none (the published version);
  // params[manifest_param] names the manifest it renders, if it renders one.
  using Answer = std::function<http::Response(const CachedVersion&, const http::RequestContext&)>;
  auto held = std::make_shared<HeldRequests>(std::max(1, context.config.http.blocking_threads / 2));
  auto add = [&](std::string pattern, int version_param, int manifest_param, Answer answer) {
    auto number = [version_param](const http::RequestContext& request) -> std::string_view {
      return version_param > 0 ? std::string_view(request.params[version_param]) : std::string_view();
    };
    http::Route route{
        http::Verb::get, std::move(pattern),
        [&context, cache, held, number, answer](http::RequestContext& request) -> http::Response {
          const auto until = std::chrono::steady_clock::now() + kHoldLimit;
          std::optional<HeldRequests::Place> place;
          for (;;) {
            const std::uint64_t seen = context.database.generation();
            auto found = find_version(context, *cache, request, number(request));
            if (!found) return http::error_response(found.error());
            http::Response response = answer(**found, request);
            if (!waits_for_a_segment(response) || (*found)->complete()) return response;
            const auto now = std::chrono::steady_clock::now();
            if (now >= until || (context.draining && context.draining())) return response;
            if (!place && !held->enter(place)) return response;
            context.database.wait_for_write(seen, std::min(until, now + kHoldRecheck));
          }
        }};
    // Nothing written since the version was last looked up: answer from memory.
    // Rendering (a long film's playlist: milliseconds) is left to the blocking pool.
    route.fast = [&context, cache, number, manifest_param,
                  answer](http::RequestContext& request) -> std::optional<http::Response> {
      db::VideoAccess access;
      auto version = cache->find_named({request.params[0], number(request)}, context.database.generation(), &access);
      if (!version) return std::nullopt;
      if (!may_watch(context, request, request.params[0], access))
        return http::error_response({ErrorCode::not_found, "no such video"});
      // A share link's manifests are rendered for each request: on the blocking pool.
      if (manifest_param >= 0 && (request.share || !version->has_manifest(request.params[manifest_param])))
        return std::nullopt;
      return answer(*version, request);  // only manifests that rendered are cached: never a 503
    };
    route.decorate = set_cors;
    routes.push_back(std::move(route));
  };
  add("/videos/{}/{}", 0, 1, &video_manifest);
  add("/videos/{}/{}/{}", 1, 2, [](const CachedVersion& version, const http::RequestContext& request) {
    return media_playlist(version, request, request.params[2]);
  });
  add("/videos/{}/{}/{}/{}", 1, -1, [&context](const CachedVersion& version, const http::RequestContext& request) {
    return version_segment(context, version, request);
  });

  // UTCTiming of dynamic MPDs (urn:mpeg:dash:utc:http-iso:2014).
  http::Route time{http::Verb::get, "/api/v1/time", [](http::RequestContext&) -> http::Response {
                     http::StringResponse response;
                     response.result(200);
                     response.set(field::field::content_type, "text/plain");
                     response.set(field::field::cache_control, "no-store");
                     response.body() = iso8601_utc(db::now_ms());
                     response.prepare_payload();
                     return response;
                   }};
  time.access = http::Access::open;
  time.blocking = false;
  time.decorate = set_cors;
  routes.push_back(std::move(time));
}

}  // namespace cinevault::api
