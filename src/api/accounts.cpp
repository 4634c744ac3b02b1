// People: signing in and out (/api/v1/session), the users admins manage (/api/v1/users),
// and the gate's check of credentials (a Bearer key or the session cookie).
#include <chrono>
#include <mutex>
#include <semaphore>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cinevault/api/api.hpp"
#include "cinevault/core/parse.hpp"
#include "cinevault/core/password.hpp"
#include "cinevault/core/text.hpp"
#include "cinevault/db/api_keys.hpp"
#include "cinevault/db/sessions.hpp"
#include "cinevault/db/users.hpp"
#include "common.hpp"
#include "sign_in_throttle.hpp"

namespace cinevault::api {
namespace {

using nlohmann::json;
namespace field = http::beast_http;

constexpr const char* kSessionCookie = "cinevault_session";
// Each Argon2id check takes 64 MiB and a tenth of a second of a core: a few at a time, and
// sign-ins beyond wait briefly or are turned away rather than exhaust memory.
constexpr std::ptrdiff_t kConcurrentPasswordChecks = 2;

json user_json(const db::User& user) {
  return {{"id", user.id},
          {"name", user.name},
          {"role", to_string(user.role)},
          {"has_password", user.has_password},
          {"created_at", iso8601_utc(user.created_at_ms)}};
}

json session_json(const Principal& principal) {
  return {{"user", {{"id", principal.user_id}, {"name", principal.name}, {"role", to_string(principal.role)}}},
          {"csrf_token", principal.by_session() ? json(principal.csrf_token) : json(nullptr)}};
}

std::string session_cookie(const std::string& value, std::int64_t max_age_s, bool secure) {
  return std::string(kSessionCookie) + "=" + value + "; Path=/; Max-Age=" + std::to_string(max_age_s) +
         "; HttpOnly; SameSite=Lax" + (secure ? "; Secure" : "");
}

// The peer address without its port, for throttling ("203.0.113.5:51234" → "203.0.113.5").
std::string address_of(const std::string& remote) {
  auto colon = remote.rfind(':');
  return colon == std::string::npos ? remote : remote.substr(0, colon);
}

Result<json> parse_object(const std::string& body) {
  json document = json::parse(body, nullptr, false);
  if (document.is_discarded() || !document.is_object()) return fail(ErrorCode::invalid_argument, "the body must be a JSON object");
  return document;
}

std::optional<std::string> string_field(const json& document, const char* key) {
  auto it = document.find(key);
  if (it == document.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

class SignIn {
 public:
  explicit SignIn(ApiContext& context) : context_(context) {}

  http::Response operator()(http::RequestContext& request) {
    if (!http::comes_from_own_origin(request))
      return http::error_response({ErrorCode::forbidden, "sign in from this server's own page"});
    auto document = parse_object(request.body);
    if (!document) return http::error_response(document.error());
    auto name = string_field(*document, "username");
    auto password = string_field(*document, "password");
    if (!name || !password || name->size() > 64 || password->size() > 1024)
      return http::error_response({ErrorCode::invalid_argument, "send {\"username\": …, \"password\": …}"});
    const std::string user_key = ascii_lower(*name), address = address_of(request.remote);
    if (auto wait = throttle_.wait(user_key, address, SignInThrottle::Clock::now())) {
      auto response = http::error_response({ErrorCode::too_many, "too many failed sign-ins: try again later"});
      response.set(field::field::retry_after, std::to_string(wait->count()));
      return response;
    }
    auto record = context_.database.read([&](db::Connection& c) { return db::find_sign_in(c, *name); });
    if (!record) return http::error_response(record.error());
    if (!checks_.try_acquire_for(std::chrono::seconds(2)))
      return http::error_response({ErrorCode::unavailable, "too many sign-ins at once: try again in a moment"});
    // An unknown name costs the same check as a known one: the answer's time tells nothing.
    bool matches = verify_password(*record ? (*record)->password_hash : decoy_hash(), *password);
    checks_.release();
    if (!*record || !matches) {
      throttle_.failed(user_key, address, SignInThrottle::Clock::now());
      spdlog::warn("sign-in refused from {}", address);
      return http::error_response({ErrorCode::unauthorized, "wrong user name or password"});
    }
    throttle_.succeeded(user_key, address);
    const db::User& user = (*record)->user;
    const std::int64_t lifetime_s = std::int64_t{context_.config.auth.session_days} * 86400;
    auto session = context_.database.write(
        [&](db::Connection& c) { return db::create_session(c, user.id, lifetime_s * 1000); });
    if (!session) return http::error_response(session.error());
    Principal principal{user.id, user.name, user.role, std::nullopt, session->csrf_token};
    auto response = http::json_response(200, session_json(principal));
    response.set(field::field::set_cookie, session_cookie(session->token, lifetime_s, context_.config.auth.behind_tls));
    response.set(field::field::cache_control, "no-store");
    spdlog::info("{} signed in from {}", user.name, address);
    return response;
  }

 private:
  // A valid hash of nothing anyone knows, made once.
  static const std::string& decoy_hash() {
    static const std::string hash = hash_password("decoy password that no account has").value_or("");
    return hash;
  }

  ApiContext& context_;
  SignInThrottle throttle_;
  std::counting_semaphore<kConcurrentPasswordChecks> checks_{kConcurrentPasswordChecks};
};

std::optional<std::int64_t> parse_user_id(const std::string& text) {
  auto id = parse_integer<std::int64_t>(text);
  return id && *id > 0 ? id : std::nullopt;
}

http::Response create_user(ApiContext& context, const http::RequestContext& request) {
  auto document = parse_object(request.body);
  if (!document) return http::error_response(document.error());
  auto name = string_field(*document, "name");
  auto role_text = string_field(*document, "role");
  auto password = string_field(*document, "password");
  if (!name || !role_text || !password)
    return http::error_response({ErrorCode::invalid_argument, "send {\"name\", \"role\", \"password\"} as strings"});
  auto role = parse_role(*role_text);
  if (!role) return http::error_response({ErrorCode::invalid_argument, "the role is admin, uploader or viewer"});
  if (auto checked = db::check_user_name(*name); !checked) return http::error_response(checked.error());
  auto hash = hash_password(*password);
  if (!hash) return http::error_response(hash.error());
  auto user = context.database.write([&](db::Connection& c) { return db::create_user(c, *name, *role, *hash); });
  if (!user) return http::error_response(user.error());
  spdlog::info("{} added user {} ({})", request.principal->name, user->name, to_string(user->role));
  return http::json_response(201, user_json(*user));
}

http::Response change_user(ApiContext& context, const http::RequestContext& request) {
  auto id = parse_user_id(request.params[0]);
  if (!id) return http::error_response({ErrorCode::not_found, "no such user"});
  auto document = parse_object(request.body);
  if (!document) return http::error_response(document.error());
  std::optional<Role> role;
  std::optional<std::string> hash;
  for (auto& [key, value] : document->items()) {
    if (key == "role") {
      role = value.is_string() ? parse_role(value.get<std::string>()) : std::nullopt;
      if (!role) return http::error_response({ErrorCode::invalid_argument, "the role is admin, uploader or viewer"});
    } else if (key == "password") {
      if (!value.is_string()) return http::error_response({ErrorCode::invalid_argument, "'password' must be a string"});
      auto made = hash_password(value.get<std::string>());
      if (!made) return http::error_response(made.error());
      hash = std::move(*made);
    } else {
      return http::error_response({ErrorCode::invalid_argument, "only role and password can change"});
    }
  }
  auto user = context.database.write([&](db::Connection& c) -> Result<std::optional<db::User>> {
    if (role) {
      TRY(bool found, db::set_user_role(c, *id, *role));
      if (!found) return std::optional<db::User>();
    }
    if (hash) {
      TRY(bool found, db::set_user_password(c, *id, *hash));
      if (!found) return std::optional<db::User>();
    }
    return db::find_user(c, *id);
  });
  if (!user) return http::error_response(user.error());
  if (!*user) return http::error_response({ErrorCode::not_found, "no such user"});
  return http::json_response(200, user_json(**user));
}

http::Response remove_user(ApiContext& context, const http::RequestContext& request) {
  auto id = parse_user_id(request.params[0]);
  if (!id) return http::error_response({ErrorCode::not_found, "no such user"});
  // Their videos pass to the admin who removes them (or the first other admin).
  auto removed = context.database.write(
      [&](db::Connection& c) { return db::remove_user(c, *id, request.principal->user_id); });
  if (!removed) return http::error_response(removed.error());
  if (!*removed) return http::error_response({ErrorCode::not_found, "no such user"});
  spdlog::info("{} removed user {}", request.principal->name, *id);
  // Their unfinished uploads (expired by remove_user) go now, not at the next sweep.
  if (auto expired = context.uploads.expire(); !expired)
    spdlog::warn("removing the uploads of user {} failed: {}", *id, expired.error().message);
  return http::empty_response(204);
}

// Records a key's last use at most once a minute per key.
class KeyUse {
 public:
  bool due(const std::string& key_id, std::int64_t now_ms) {
    std::lock_guard lock(mutex_);
    if (touched_.size() > 10000) touched_.clear();
    auto& last = touched_[key_id];
    if (now_ms - last < 60'000) return false;
    last = now_ms;
    return true;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::int64_t> touched_;
};

}  // namespace

http::Gate make_gate(ApiContext& context) {
  http::Gate gate;
  gate.anonymous_reads = !context.config.auth.require_key_for_reads;
  gate.session_cookie = kSessionCookie;
  auto key_use = std::make_shared<KeyUse>();
  gate.authenticate = [&context, key_use](const http::Credentials& credentials) -> Result<std::optional<Principal>> {
    if (!credentials.bearer.empty()) {
      TRY(auto holder, context.database.read([&](db::Connection& c) { return db::find_live_key(c, credentials.bearer); }));
      if (!holder) return std::optional<Principal>();
      if (key_use->due(holder->key_id, db::now_ms()))
        (void)context.database.write([&](db::Connection& c) { return db::touch_api_key(c, holder->key_id); });
      return Principal{holder->user.id, holder->user.name, holder->user.role, holder->key_id, {}};
    }
    TRY(auto session, context.database.read([&](db::Connection& c) { return db::find_session(c, credentials.session); }));
    if (!session) return std::optional<Principal>();
    return Principal{session->user.id, session->user.name, session->user.role, std::nullopt, session->csrf_token};
  };
  gate.verify_share = [&context](std::string_view token) {
    return context.share_links.verify(token, db::now_ms() / 1000);
  };
  return gate;
}

void add_account_routes(ApiContext& context, std::vector<http::Route>& routes) {
  auto sign_in = std::make_shared<SignIn>(context);
  routes.push_back({http::Verb::post, "/api/v1/session",
                    [sign_in](http::RequestContext& request) { return (*sign_in)(request); }, http::Access::open,
                    http::BodyKind::text, 4096});
  routes.push_back({http::Verb::get, "/api/v1/session",
                    [](http::RequestContext& request) -> http::Response {
                      auto response = http::json_response(200, session_json(*request.principal));
                      response.set(field::field::cache_control, "no-store");
                      return response;
                    },
                    http::Access::user, http::BodyKind::none, 0, {}, false});
  routes.push_back({http::Verb::delete_, "/api/v1/session",
                    [&context](http::RequestContext& request) -> http::Response {
                      const Principal& user = *request.principal;
                      if (user.by_session()) {
                        auto ended = context.database.write(
                            [&](db::Connection& c) { return db::delete_session(c, user.user_id, user.csrf_token); });
                        if (!ended) return http::error_response(ended.error());
                      }
                      auto response = http::empty_response(204);
                      response.set(field::field::set_cookie, session_cookie("", 0, context.config.auth.behind_tls));
                      return response;
                    },
                    http::Access::user});

  routes.push_back({http::Verb::get, "/api/v1/users",
                    [&context](http::RequestContext&) -> http::Response {
                      auto users = context.database.read([](db::Connection& c) { return db::list_users(c); });
                      if (!users) return http::error_response(users.error());
                      json list = json::array();
                      for (auto& user : *users) list.push_back(user_json(user));
                      return http::json_response(200, {{"users", list}});
                    },
                    http::Access::admin});
  routes.push_back({http::Verb::post, "/api/v1/users",
                    [&context](http::RequestContext& request) { return create_user(context, request); },
                    http::Access::admin, http::BodyKind::text, 8192});
  routes.push_back({http::Verb::patch, "/api/v1/users/{}",
                    [&context](http::RequestContext& request) { return change_user(context, request); },
                    http::Access::admin, http::BodyKind::text, 8192});
  routes.push_back({http::Verb::delete_, "/api/v1/users/{}",
                    [&context](http::RequestContext& request) { return remove_user(context, request); },
                    http::Access::admin});
}

}  // namespace cinevault::api
