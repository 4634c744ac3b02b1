#include "cinevault/http/types.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cinevault/core/text.hpp"

namespace cinevault::http {

std::string_view RequestContext::header_value(beast_http::field field) const {
  auto it = header->find(field);
  return it == header->end() ? std::string_view() : std::string_view(it->value().data(), it->value().size());
}

std::string_view RequestContext::header_value(std::string_view name) const {
  auto it = header->find(boost::beast::string_view(name.data(), name.size()));
  return it == header->end() ? std::string_view() : std::string_view(it->value().data(), it->value().size());
}

std::optional<std::string> RequestContext::query_value(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

// The one table from error kinds to HTTP statuses.
unsigned status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument: return 400;
    case ErrorCode::unauthorized: return 401;
    case ErrorCode::forbidden: return 403;
    case ErrorCode::not_found: return 404;
    case ErrorCode::conflict: return 409;
    case ErrorCode::gone: return 410;
    case ErrorCode::precondition_failed: return 412;
    case ErrorCode::too_large: return 413;
    case ErrorCode::too_many: return 429;
    case ErrorCode::insufficient_storage: return 507;
    case ErrorCode::unsupported_media: return 415;
    case ErrorCode::unprocessable: return 422;
    case ErrorCode::locked: return 423;
    case ErrorCode::checksum_mismatch: return 460;  // tus checksum extension
    case ErrorCode::unavailable: return 503;
    case ErrorCode::codec:
    case ErrorCode::hardware:
    case ErrorCode::crashed:
    case ErrorCode::resource:
    case ErrorCode::io:
    case ErrorCode::database:
    case ErrorCode::internal: return 500;
  }
  return 500;
}

StringResponse json_response(unsigned status, const nlohmann::json& body) {
  StringResponse response;
  response.result(status);
  response.set(beast_http::field::content_type, "application/json");
  response.body() = json_text(body);
  response.body().push_back('\n');
  response.prepare_payload();
  return response;
}

StringResponse empty_response(unsigned status) {
  StringResponse response;
  response.result(status);
  response.prepare_payload();
  return response;
}

StringResponse error_response(const Error& error) {
  unsigned status = status_for(error.code);
  // Internal details (paths, SQL) stay in the log; the client gets the kind of failure.
  bool for_client = status < 500 || error.code == ErrorCode::unavailable || error.code == ErrorCode::insufficient_storage;
  std::string message = for_client ? error.message : "internal server error, see the server log";
  if (!for_client) spdlog::error("answering {} ({}): {}", status, to_string(error.code), error.message);
  auto response = json_response(status, {{"error", {{"code", to_string(error.code)}, {"message", message}}}});
  if (error.code == ErrorCode::unauthorized) response.set(beast_http::field::www_authenticate, "Bearer");
  return response;
}

}  // namespace cinevault::http
