// The tus 1.0 resumable upload protocol: core, creation, creation-with-upload, termination,
// checksum (sha1, sha256) and expiration. https://tus.io/protocols/resumable-upload
#include "cinevault/api/api.hpp"
#include "cinevault/api/request_parsing.hpp"
#include "cinevault/core/hash.hpp"
#include "cinevault/core/parse.hpp"
#include "cinevault/core/text.hpp"
#include "common.hpp"

namespace cinevault::api {
namespace {

using nlohmann::json;
namespace field = http::beast_http;

constexpr const char* kTusVersion = "1.0.0";
constexpr const char* kOffsetContentType = "application/offset+octet-stream";

std::string http_date(std::int64_t unix_ms) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return text;
}

std::optional<std::int64_t> parse_non_negative(std::string_view text) {
  auto value = parse_integer<std::int64_t>(text);
  return value && *value >= 0 ? value : std::nullopt;
}

// Media types compare without case and parameters.
bool is_offset_stream(std::string_view content_type) {
  auto semicolon = content_type.find(';');
  content_type = content_type.substr(0, semicolon);
  while (!content_type.empty() && content_type.back() == ' ') content_type.remove_suffix(1);
  return ascii_iequals(content_type, kOffsetContentType);
}

// Every tus request but OPTIONS must name the protocol version we speak.
Result<void> check_tus_version(const http::RequestContext& request) {
  if (request.header_value("Tus-Resumable") == kTusVersion) return {};
  return fail(ErrorCode::precondition_failed, "Tus-Resumable must be 1.0.0");
}

Result<std::optional<std::int64_t>> content_length(const http::RequestContext& request) {
  auto text = request.header_value(field::field::content_length);
  if (text.empty()) return std::optional<std::int64_t>();
  auto value = parse_non_negative(text);
  if (!value) return fail(ErrorCode::invalid_argument, "bad Content-Length");
  return std::optional<std::int64_t>(*value);
}

bool has_body(const http::RequestContext& request) {
  return request.header_value(field::field::transfer_encoding).size() > 0 ||
         parse_non_negative(request.header_value(field::field::content_length)).value_or(0) > 0;
}

// The body of a PATCH (or of a POST with creation-with-upload) goes straight into the upload.
class AppendSink final : public http::BodySink {
 public:
  AppendSink(std::optional<ingest::UploadStatus> created, std::unique_ptr<ingest::UploadAppend> append)
      : created(std::move(created)), append(std::move(append)) {}
  Result<void> write(const char* data, std::size_t size) override {
    if (!append) return fail(ErrorCode::invalid_argument, "this request takes no body");
    return append->write(data, size);
  }
  bool should_wait_for_disk() const override { return append && append->should_wait_for_disk(); }
  Result<void> wait_for_disk() override { return append ? append->wait_for_disk() : Result<void>{}; }
  void interrupted() override {
    if (append) append->keep_partial();
  }
  std::optional<ingest::UploadStatus> created;
  std::unique_ptr<ingest::UploadAppend> append;
};

// The headers every tus response carries, error responses included.
void add_tus_headers(http::Response& response) {
  std::visit(
      [](auto& message) {
        message.set("Tus-Resumable", kTusVersion);
        if (message.result_int() == 412) message.set("Tus-Version", kTusVersion);
      },
      response);
}

void set_header(http::Response& response, std::string_view name, const std::string& value) {
  std::visit([&](auto& message) { message.set(boost::beast::string_view(name.data(), name.size()), value); }, response);
}

http::Response append_response(ApiContext&, Result<ingest::UploadAppend::Outcome> outcome, unsigned success_status) {
  if (!outcome) return http::error_response(outcome.error());
  http::Response response = http::empty_response(success_status);
  set_header(response, "Upload-Offset", std::to_string(outcome->offset));
  if (outcome->video) {
    set_header(response, "Cinevault-Video-Id", outcome->video->video.id);
  } else {
    set_header(response, "Upload-Expires", http_date(outcome->expires_at_ms));
  }
  return response;
}

// The upload the request names, when it is the requester's (or the requester is an admin);
// another person's upload is not found.
Result<ingest::UploadStatus> own_upload(ApiContext& context, const http::RequestContext& request) {
  TRY(auto status, context.uploads.status(request.params[0]));
  const Principal& user = *request.principal;
  if (user.role != Role::admin && status.row.owner != std::to_string(user.user_id))
    return fail(ErrorCode::not_found, "no such upload");
  return status;
}

}  // namespace

void add_upload_routes(ApiContext& context, std::vector<http::Route>& routes) {
  const auto max_size = static_cast<std::uint64_t>(context.uploads.max_size());
  const std::size_t first = routes.size();

  // Discovery: versions, extensions, limits.
  auto discovery = [&context](http::RequestContext&) -> http::Response {
    auto response = http::empty_response(204);
    response.set("Tus-Version", kTusVersion);
    response.set("Tus-Max-Size", std::to_string(context.uploads.max_size()));
    response.set("Tus-Extension", "creation,creation-with-upload,termination,checksum,expiration");
    response.set("Tus-Checksum-Algorithm", "sha1,sha256");
    return response;
  };
  routes.push_back({http::Verb::options, "/api/v1/uploads", discovery, http::Access::open, http::BodyKind::none, 0, {}, false});
  routes.push_back({http::Verb::options, "/api/v1/uploads/{}", discovery, http::Access::open, http::BodyKind::none, 0, {}, false});

  // Creation (and creation-with-upload when the POST carries data).
  routes.push_back(
      {http::Verb::post, "/api/v1/uploads",
       [&context](http::RequestContext& request) -> http::Response {
         auto& sink = static_cast<AppendSink&>(*request.sink);
         const auto& id = sink.created->row.id;
         http::Response response = http::empty_response(201);
         if (sink.append) {
           response = append_response(context, sink.append->commit(), 201);
           if (std::visit([](auto& m) { return m.result_int(); }, response) != 201) return response;
         } else {
           set_header(response, "Upload-Expires", http_date(sink.created->row.expires_at_ms));
         }
         set_header(response, "Location", "/api/v1/uploads/" + id);
         return response;
       },
       http::Access::upload, http::BodyKind::stream, max_size,
       [&context](http::RequestContext& request) -> Result<std::unique_ptr<http::BodySink>> {
         RETURN_IF_ERROR(check_tus_version(request));
         if (!request.header_value("Upload-Defer-Length").empty())
           return fail(ErrorCode::invalid_argument, "Upload-Defer-Length is not supported: send Upload-Length");
         auto length = parse_non_negative(request.header_value("Upload-Length"));
         if (!length) return fail(ErrorCode::invalid_argument, "Upload-Length is required and must be a non-negative integer");
         if (*length > context.uploads.max_size())
           return fail(ErrorCode::too_large, "Upload-Length is over Tus-Max-Size " + std::to_string(context.uploads.max_size()));
         TRY(auto metadata, parse_upload_metadata(request.header_value("Upload-Metadata")));
         bool body = has_body(request);
         if (body && !is_offset_stream(request.header_value(field::field::content_type)))
           return fail(ErrorCode::unsupported_media, "data sent with the creation must be application/offset+octet-stream");
         TRY(auto checksum, parse_upload_checksum(request.header_value("Upload-Checksum")));
         TRY(auto length_of_body, content_length(request));
         if (length_of_body && *length_of_body > *length)
           return fail(ErrorCode::too_large, "the data goes past the declared Upload-Length");
         TRY(auto created, context.uploads.create(std::to_string(request.principal->user_id), *length, std::move(metadata)));
         std::unique_ptr<ingest::UploadAppend> append;
         if (body) {
           TRY(append, context.uploads.begin_append(created.row.id, 0, length_of_body, std::move(checksum)));
         }
         return std::unique_ptr<http::BodySink>(new AppendSink(std::move(created), std::move(append)));
       }});

  // Where an upload stands. Never cached: the offset moves.
  routes.push_back({http::Verb::head, "/api/v1/uploads/{}", [&context](http::RequestContext& request) -> http::Response {
                      if (auto ok = check_tus_version(request); !ok) return http::error_response(ok.error());
                      auto status = own_upload(context, request);
                      http::Response response = status ? http::Response(http::empty_response(200))
                                                       : http::Response(http::error_response(status.error()));
                      set_header(response, "Cache-Control", "no-store");
                      if (!status) return response;
                      set_header(response, "Upload-Offset", std::to_string(status->row.offset));
                      set_header(response, "Upload-Length", std::to_string(status->row.length));
                      if (!status->metadata.empty()) set_header(response, "Upload-Metadata", encode_upload_metadata(status->metadata));
                      if (status->row.state != "complete") set_header(response, "Upload-Expires", http_date(status->row.expires_at_ms));
                      if (status->row.video_id) set_header(response, "Cinevault-Video-Id", *status->row.video_id);
                      return response;
                    },
                    http::Access::upload});

  // The same facts as JSON, for people and pages.
  routes.push_back({http::Verb::get, "/api/v1/uploads/{}", [&context](http::RequestContext& request) -> http::Response {
                      auto status = own_upload(context, request);
                      if (!status) return http::error_response(status.error());
                      json body = {{"id", status->row.id},           {"length", status->row.length},
                                   {"offset", status->row.offset},   {"state", status->row.state},
                                   {"metadata", status->metadata},   {"expires_at", iso8601_utc(status->row.expires_at_ms)}};
                      body["video_id"] = status->row.video_id ? json(*status->row.video_id) : json(nullptr);
                      auto response = http::json_response(200, body);
                      response.set(field::field::cache_control, "no-store");
                      return response;
                    },
                    http::Access::upload});

  // Appending data at the offset the server reported.
  routes.push_back({http::Verb::patch, "/api/v1/uploads/{}",
                    [&context](http::RequestContext& request) -> http::Response {
                      auto& sink = static_cast<AppendSink&>(*request.sink);
                      return append_response(context, sink.append->commit(), 204);
                    },
                    http::Access::upload, http::BodyKind::stream, max_size,
                    [&context](http::RequestContext& request) -> Result<std::unique_ptr<http::BodySink>> {
                      RETURN_IF_ERROR(check_tus_version(request));
                      if (!is_offset_stream(request.header_value(field::field::content_type)))
                        return fail(ErrorCode::unsupported_media, "PATCH data must be application/offset+octet-stream");
                      auto offset = parse_non_negative(request.header_value("Upload-Offset"));
                      if (!offset) return fail(ErrorCode::invalid_argument, "Upload-Offset is required and must be a non-negative integer");
                      TRY(auto checksum, parse_upload_checksum(request.header_value("Upload-Checksum")));
                      TRY(auto length, content_length(request));
                      RETURN_IF_ERROR(own_upload(context, request));
                      TRY(auto append, context.uploads.begin_append(request.params[0], *offset, length, std::move(checksum)));
                      return std::unique_ptr<http::BodySink>(new AppendSink(std::nullopt, std::move(append)));
                    }});

  // Termination.
  routes.push_back({http::Verb::delete_, "/api/v1/uploads/{}",
                    [&context](http::RequestContext& request) -> http::Response {
                      if (auto ok = check_tus_version(request); !ok) return http::error_response(ok.error());
                      if (auto owned = own_upload(context, request); !owned) return http::error_response(owned.error());
                      auto terminated = context.uploads.terminate(request.params[0]);
                      if (!terminated) return http::error_response(terminated.error());
                      return http::empty_response(204);
                    },
                    http::Access::upload});

  for (std::size_t i = first; i < routes.size(); ++i)
    if (routes[i].method != http::Verb::get) routes[i].decorate = add_tus_headers;
}

}  // namespace cinevault::api
