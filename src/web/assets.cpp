#include "cinevault/web/assets.hpp"

#include <fstream>
#include <iterator>
#include <map>

#include "cinevault/core/hash.hpp"
#include "embedded_files.hpp"

namespace cinevault::web {
namespace {

const char* content_type_for(std::string_view path) {
  static const std::pair<std::string_view, const char*> types[] = {
      {".html", "text/html; charset=utf-8"},   {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"}, {".mjs", "text/javascript; charset=utf-8"},
      {".json", "application/json"},          {".svg", "image/svg+xml"},
      {".png", "image/png"},                  {".ico", "image/x-icon"},
      {".webp", "image/webp"},                {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (auto& [suffix, type] : types)
    if (path.ends_with(suffix)) return type;
  return "application/octet-stream";
}

class EmbeddedAssets final : public Assets {
 public:
  EmbeddedAssets() {
    // Hashed once: the bytes never change while the binary runs.
    for (auto& file : embedded_files()) {
      std::string_view bytes(file.begin, static_cast<std::size_t>(file.end - file.begin));
      files_.emplace(file.path, Asset{bytes, nullptr, content_type_for(file.path), strong_etag(bytes)});
    }
  }

  Result<Asset> find(std::string_view path) const override {
    auto it = files_.find(path);
    if (it == files_.end()) return fail(ErrorCode::not_found, "no such file");
    return it->second;
  }

 private:
  std::map<std::string, Asset, std::less<>> files_;
};

// Only paths that name files of the page: no dot files, nothing outside the folder.
bool plain_path(std::string_view path) {
  if (path.empty() || path.front() == '/' || path.front() == '.') return false;
  for (std::size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == '/';
    if (!ok) return false;
    if ((c == '/' || c == '.') && i + 1 < path.size() && (path[i + 1] == '.' || path[i + 1] == '/')) return false;
  }
  return true;
}

class DirectoryAssets final : public Assets {
 public:
  explicit DirectoryAssets(std::filesystem::path web_dir) : web_dir_(std::move(web_dir)) {}

  Result<Asset> find(std::string_view path) const override {
    if (!plain_path(path)) return fail(ErrorCode::not_found, "no such file");
    std::filesystem::path file = web_dir_ / "public" / std::string(path);
    for (auto& vendor : vendor_files())
      if (path == vendor.path) file = web_dir_ / vendor.source;
    std::ifstream in(file, std::ios::binary);
    if (!in || std::filesystem::is_directory(file)) return fail(ErrorCode::not_found, "no such file");
    auto owned = std::make_shared<std::string>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) return fail(ErrorCode::io, "cannot read " + file.string());
    Asset asset{*owned, owned, content_type_for(path), strong_etag(*owned)};
    return asset;
  }

 private:
  std::filesystem::path web_dir_;
};

}  // namespace

std::unique_ptr<Assets> make_embedded_assets() { return std::make_unique<EmbeddedAssets>(); }

std::unique_ptr<Assets> make_directory_assets(std::filesystem::path web_dir) {
  return std::make_unique<DirectoryAssets>(std::move(web_dir));
}

}  // namespace cinevault::web
